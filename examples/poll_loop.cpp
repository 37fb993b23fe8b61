// poll_loop: two channel groups and a pipe served by one plain poll() loop (POSIX).
//
//   example_poll_loop
//
// A group's native_handle() is a descriptor that is readable exactly while the group's queue holds
// messages, so it sits in a poll() set like any socket or pipe. Here one thread polls three
// descriptors: a server group, a client group, and a pipe on which another thread sends commands
// ("ask N", then "quit"). Each time a group's handle is readable the loop drains the group with
// try_receive() until it returns null: that never blocks, and the null lowers the handle again.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <variant>

#include <tofu/tofu.hpp>

using namespace std::chrono_literals;

namespace {

constexpr auto patience = 10s;  // the whole loop's deadline

// A pipe whose two ends are closed when it goes.
struct Pipe {
    Pipe() {
        if (::pipe(fds.data()) != 0) {
            throw std::system_error(errno, std::generic_category(), "pipe");
        }
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    Pipe(Pipe&&) = delete;
    Pipe& operator=(Pipe&&) = delete;
    ~Pipe() {
        for (const int fd : fds) {
            if (fd >= 0) {
                ::close(fd);
            }
        }
    }
    void close_write_end() {
        ::close(fds[1]);
        fds[1] = -1;
    }
    std::array<int, 2> fds{-1, -1};  // read end, write end
};

// A status other than success is a report from the engine; here every one but channel_closed is a
// failure (e.g. the listen or the connect failed).
void check(const tofu::Message& msg) {
    if (msg.bhdr.status != tofu::AmpeStatus::success && msg.bhdr.status != tofu::AmpeStatus::channel_closed) {
        throw tofu::Error{msg.bhdr.status, tofu::to_string(msg)};
    }
}

bool is_channel_closed(const tofu::Message& msg) {
    return msg.bhdr.proto.op_code == tofu::OpCode::signal &&
           msg.bhdr.status == tofu::AmpeStatus::channel_closed;
}

int run() {
    auto engine = tofu::Reactor::create(tofu::Options{});
    tofu::ChannelGroupPtr server = engine->create();
    tofu::ChannelGroupPtr client = engine->create();

    // Listen on an ephemeral port (waiting for the answer before the loop keeps the loop short)
    // and connect to it; Requests posted later follow the HelloRequest on the wire.
    tofu::MessagePtr welcome = engine->get(tofu::AllocationStrategy::always);
    tofu::TcpServerAddress{"127.0.0.1", 0}.format(*welcome);
    server->post(welcome);
    tofu::MessagePtr ready = server->wait_receive(patience);
    if (!ready) {
        throw std::runtime_error("no WelcomeResponse in time");
    }
    check(*ready);
    const tofu::ParsedAddress bound = tofu::parse_address(*ready);  // ~listen_on
    const auto* tcp = std::get_if<tofu::TcpServerAddress>(&bound.address);
    if (tcp == nullptr) {
        throw std::runtime_error("the WelcomeResponse names no TCP address");
    }
    tofu::MessagePtr hello = engine->get(tofu::AllocationStrategy::always);
    tofu::TcpClientAddress{"127.0.0.1", tcp->port}.format(*hello);
    const std::uint16_t channel = client->post(hello).channel_number;

    // Commands from another thread. Each write is one short line (under PIPE_BUF: written whole,
    // never blocking), and closing the write end tells the loop there are no more.
    Pipe commands;
    std::jthread commander{[&commands] {
        for (const std::string_view line : {"ask 3\n", "ask 4\n", "ask 5\n", "quit\n"}) {
            if (::write(commands.fds[1], line.data(), line.size()) < 0) {
                break;  // the loop reports the missing commands
            }
        }
        commands.close_write_end();
    }};

    std::array<pollfd, 3> fds{{
        {server->native_handle(), POLLIN, 0},
        {client->native_handle(), POLLIN, 0},
        {commands.fds[0], POLLIN, 0},
    }};
    std::string pending;  // bytes read from the pipe, up to the next '\n'
    int asked = 0;
    int answered = 0;
    bool server_done = false;
    bool client_done = false;
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (!server_done || !client_done) {
        const auto left =
            std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        const int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::max(left, 0ms).count()));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw std::system_error(errno, std::generic_category(), "poll");
        }
        if (n == 0) {
            throw std::runtime_error("the loop did not finish in time");
        }

        // The server: accept, answer squares, acknowledge the goodbye.
        if ((fds[0].revents & POLLIN) != 0) {
            while (tofu::MessagePtr msg = server->try_receive()) {  // drain: null lowers the handle
                check(*msg);
                switch (msg->bhdr.proto.op_code) {
                    case tofu::OpCode::hello_request:
                    case tofu::OpCode::bye_request:
                        msg->bhdr.proto.op_code =
                            tofu::echo(msg->bhdr.proto.op_code);  // accept / acknowledge
                        server->post(msg);
                        break;
                    case tofu::OpCode::request: {
                        const long x = std::stol(std::string{msg->body.text()});
                        msg->bhdr.proto.op_code = tofu::OpCode::response;  // same channel, same message id
                        msg->body.copy(std::to_string(x * x));
                        server->post(msg);
                        break;
                    }
                    default: server_done = server_done || is_channel_closed(*msg); break;
                }
            }
        }

        // The client: print the answers; done when its channel has closed.
        if ((fds[1].revents & POLLIN) != 0) {
            while (tofu::MessagePtr msg = client->try_receive()) {
                check(*msg);
                if (msg->bhdr.proto.op_code == tofu::OpCode::response) {
                    std::cout << "client: got " << msg->body.text() << '\n';
                    ++answered;
                }
                client_done = client_done || is_channel_closed(*msg);
            }
        }

        // The pipe: whole lines become Requests; "quit" says goodbye.
        if ((fds[2].revents & (POLLIN | POLLHUP)) != 0) {
            std::array<char, 256> buffer{};
            const ssize_t got = ::read(fds[2].fd, buffer.data(), buffer.size());
            if (got < 0 && errno != EINTR) {
                throw std::system_error(errno, std::generic_category(), "read");
            }
            pending.append(buffer.data(), static_cast<std::size_t>(std::max<ssize_t>(got, 0)));
            for (auto end = pending.find('\n'); end != std::string::npos; end = pending.find('\n')) {
                const std::string line = pending.substr(0, end);
                pending.erase(0, end + 1);
                tofu::MessagePtr msg = engine->get(tofu::AllocationStrategy::always);
                msg->bhdr.channel_number = channel;
                if (line.starts_with("ask ")) {
                    msg->body.copy(line.substr(4));  // a Request: the op code of a fresh message
                    ++asked;
                } else if (line == "quit") {
                    msg->bhdr.proto.op_code = tofu::OpCode::bye_request;  // answered after the Requests
                } else {
                    throw std::runtime_error("unknown command: " + line);
                }
                client->post(msg);
            }
            if (got == 0) {
                fds[2].fd = -1;  // the commander is done: poll() skips negative descriptors
            }
        }
    }
    if (asked != 3 || answered != asked) {
        throw std::runtime_error("asked " + std::to_string(asked) + ", answered " + std::to_string(answered));
    }
    std::cout << "all " << answered << " answers arrived through one poll() loop\n";
    return 0;
}

}  // namespace

int main() {
    try {
        return run();
    } catch (const tofu::Error& e) {  // what failed, and the AmpeStatus saying why
        std::cerr << "tofu error: " << e.what() << " (status " << tofu::status_name(e.status()) << ")\n";
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
    }
    return 1;
}

// Fuzz target: a whole engine fed arbitrary bytes on an accepted connection. One engine listens on
// an abstract Unix socket for the whole run; each input is one connection that writes the input and
// ends its side. The application accepts every HelloRequest and answers every request, so bytes past
// a Hello reach the established-channel paths too. The engine must close and report that one
// connection (a `channel_closed` report) and stay up: a missing report is a hang, and ASan and
// UBSan watch everything in between.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

namespace {

constexpr auto report_timeout = std::chrono::seconds{30};

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "engine_fuzz: %s\n", what);
    std::abort();
}

struct Server {
    std::unique_ptr<tofu::Reactor> engine = tofu::Reactor::create(tofu::Options{});
    tofu::ChannelGroupPtr group = engine->create();
    std::string name = "tofu-fuzz-" + std::to_string(::getpid());
    std::uint16_t listener = 0;

    Server() {
        tofu::MessagePtr welcome = engine->get(tofu::AllocationStrategy::always);
        tofu::format(*welcome, tofu::UdsServerAddress{"@" + name});
        listener = group->post(welcome).channel_number;
        const tofu::MessagePtr ready = group->wait_receive(report_timeout);
        if (!ready || ready->bhdr.proto.op_code != tofu::OpCode::welcome_response ||
            ready->bhdr.status != tofu::AmpeStatus::success) {
            fail("the listener did not start");
        }
    }
};

Server& server() {
    static Server s;
    return s;
}

int connect_raw(const std::string& abstract_name) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path + 1, abstract_name.data(), abstract_name.size());  // sun_path[0] = 0
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + abstract_name.size());
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&sun), len) != 0) {
        fail("cannot connect to the engine");
    }
    return fd;
}

/// What the application does with one delivered message. Returns true for the report that the fuzzed
/// connection closed.
bool handle(Server& s, tofu::MessagePtr msg) {
    const tofu::BinaryHeader h = msg->bhdr;
    if (msg->is_from_engine()) {
        if (h.proto.op_code == tofu::OpCode::signal && h.status == tofu::AmpeStatus::channel_closed) {
            if (h.channel_number == s.listener) {
                fail("the listener closed");
            }
            return true;
        }
        return false;
    }
    if (h.proto.role() != tofu::MessageRole::request || h.proto.op_code == tofu::OpCode::welcome_request) {
        return false;
    }
    msg->bhdr.proto.op_code = tofu::echo(h.proto.op_code);  // accept Hello, answer Request and Bye
    msg->bhdr.proto.more = false;
    msg->thdrs.reset();
    msg->body.reset();
    try {
        (void)s.group->post(msg);
    } catch (const tofu::Error&) {
        // The channel may have closed meanwhile, or the id is 0: the engine said no, as it should.
    }
    return false;
}

/// Handles what has arrived; waits up to `wait` for the first message. True once the connection's
/// close report came.
bool drain(Server& s, std::chrono::nanoseconds wait) {
    for (tofu::MessagePtr m = s.group->wait_receive(wait); m;
         m = s.group->wait_receive(std::chrono::nanoseconds{0})) {
        if (handle(s, std::move(m))) {
            return true;
        }
    }
    return false;
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's entry point
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Server& s = server();
    const int fd = connect_raw(s.name);
    std::span<const std::uint8_t> rest{data, size};
    bool closed = false;
    while (!rest.empty() && !closed) {
        const ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            rest = rest.subspan(static_cast<std::size_t>(n));
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            break;  // the engine closed the connection already
        }
        closed = drain(s, std::chrono::milliseconds{n > 0 ? 0 : 1});  // a full socket: let the app catch up
    }
    ::shutdown(fd, SHUT_WR);
    const auto deadline = std::chrono::steady_clock::now() + report_timeout;
    while (!closed) {
        if (std::chrono::steady_clock::now() > deadline) {
            fail("no channel_closed report for the fuzzed connection");
        }
        closed = drain(s, std::chrono::milliseconds{100});
    }
    ::close(fd);
    return 0;
}

// asio_server: a tofu server inside an Asio io_context, beside a timer and a plain TCP socket.
//
//   example_asio_server
//
// One thread, one io_context, five C++20 coroutines: a tofu server and a tofu client, each
// taking its group's messages with tofu::asio::receiver (<tofu/asio.hpp>), an asio::steady_timer
// ticking, and a plain Asio TCP acceptor and client exchanging a line. No thread waits in
// wait_receive: `co_await receiver.async_receive(...)` suspends like a socket read does.
#include <chrono>
#include <cstdint>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <variant>

#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <tofu/asio.hpp>
#include <tofu/tofu.hpp>

using namespace std::chrono_literals;
using asio::awaitable;
using asio::use_awaitable;

namespace {

constexpr auto patience = 10s;  // the whole program's deadline
constexpr int jobs = 3;         // Requests the tofu client sends
constexpr int ticks = 3;        // timer ticks

// What each part has done, checked once the io_context has run.
struct Progress {
    bool served = false;    // the tofu server saw its client leave
    bool answered = false;  // the tofu client checked every Response and closed
    int ticked = 0;
    bool line_echoed = false;
};

// A coroutine's exception ends io_context::run_for() by propagating out of it.
void rethrow(const std::exception_ptr& e) {
    if (e) {
        std::rethrow_exception(e);
    }
}

// The next message; with use_awaitable a failed receive (operation_aborted, invalid_group) throws.
// A status other than success is a report from the engine; here every one but channel_closed is a
// failure (e.g. the listen or the connect failed).
awaitable<tofu::MessagePtr> next(tofu::asio::receiver& receiver) {
    tofu::MessagePtr msg = co_await receiver.async_receive(use_awaitable);
    if (msg->bhdr.status != tofu::AmpeStatus::success &&
        msg->bhdr.status != tofu::AmpeStatus::channel_closed) {
        throw tofu::Error{msg->bhdr.status, tofu::to_string(*msg)};
    }
    co_return msg;
}

// The tofu client: connects, asks for `jobs` squares, checks the answers, says goodbye.
awaitable<void> tofu_client(tofu::Ampe& engine, tofu::ChannelGroup& group, std::uint16_t port,
                            Progress& progress) {
    tofu::asio::receiver receiver{co_await asio::this_coro::executor, group};
    tofu::MessagePtr hello = engine.get(tofu::AllocationStrategy::always);
    tofu::TcpClientAddress{"127.0.0.1", port}.format(*hello);
    const std::uint16_t channel = group.post(hello).channel_number;
    if ((co_await next(receiver))->bhdr.proto.op_code != tofu::OpCode::hello_response) {
        throw std::runtime_error("expected the HelloResponse");
    }
    for (long n = 1; n <= jobs; ++n) {
        tofu::MessagePtr request = engine.get(tofu::AllocationStrategy::always);
        request->bhdr.channel_number = channel;
        request->body.copy(std::to_string(n));
        group.post(request);
        tofu::MessagePtr response = co_await next(receiver);
        if (response->bhdr.proto.op_code != tofu::OpCode::response ||
            response->body.text() != std::to_string(n * n)) {
            throw std::runtime_error("wrong answer: " + tofu::to_string(*response));
        }
        std::cout << "tofu client: " << n << " squared is " << response->body.text() << '\n';
    }
    tofu::MessagePtr bye = engine.get(tofu::AllocationStrategy::always);
    bye->bhdr.proto.op_code = tofu::OpCode::bye_request;
    bye->bhdr.channel_number = channel;
    group.post(bye);
    while ((co_await next(receiver))->bhdr.status != tofu::AmpeStatus::channel_closed) {
        // the ByeResponse arrives first, then channel_closed
    }
    progress.answered = true;
}

// The tofu server: listens on an ephemeral port, starts the client with it, answers each Request
// with the square of its number, and ends when the client has gone.
awaitable<void> tofu_server(tofu::Ampe& engine, tofu::ChannelGroup& group, tofu::ChannelGroup& client_group,
                            Progress& progress) {
    const auto executor = co_await asio::this_coro::executor;
    tofu::asio::receiver receiver{executor, group};
    tofu::MessagePtr welcome = engine.get(tofu::AllocationStrategy::always);
    tofu::TcpServerAddress{"127.0.0.1", 0}.format(*welcome);
    group.post(welcome);
    const tofu::ParsedAddress bound = tofu::parse_address(*co_await next(receiver));  // ~listen_on
    const auto* tcp = std::get_if<tofu::TcpServerAddress>(&bound.address);
    if (tcp == nullptr) {
        throw std::runtime_error("the WelcomeResponse names no TCP address");
    }
    asio::co_spawn(executor, tofu_client(engine, client_group, tcp->port, progress), rethrow);
    for (;;) {
        tofu::MessagePtr msg = co_await next(receiver);
        switch (msg->bhdr.proto.op_code) {
            case tofu::OpCode::hello_request:
            case tofu::OpCode::bye_request:
                msg->bhdr.proto.op_code = tofu::echo(msg->bhdr.proto.op_code);  // accept / acknowledge
                group.post(msg);
                break;
            case tofu::OpCode::request: {
                const long n = std::stol(std::string{msg->body.text()});
                msg->bhdr.proto.op_code = tofu::OpCode::response;  // same channel, same message id
                msg->body.copy(std::to_string(n * n));
                group.post(msg);
                break;
            }
            case tofu::OpCode::signal:
                if (msg->bhdr.status == tofu::AmpeStatus::channel_closed) {
                    progress.served = true;  // the client is gone
                    co_return;
                }
                break;
            default: break;
        }
    }
}

// A timer ticking beside the rest.
awaitable<void> ticker(Progress& progress) {
    asio::steady_timer timer{co_await asio::this_coro::executor};
    while (progress.ticked < ticks) {
        timer.expires_after(10ms);
        co_await timer.async_wait(use_awaitable);
        std::cout << "tick " << ++progress.ticked << '\n';
    }
}

// Plain Asio TCP, no tofu: the acceptor's side answers one line.
awaitable<void> line_server(asio::ip::tcp::acceptor acceptor) {
    asio::ip::tcp::socket peer = co_await acceptor.async_accept(use_awaitable);
    std::string line;
    co_await asio::async_read_until(peer, asio::dynamic_buffer(line), '\n', use_awaitable);
    const std::string reply = "echo: " + line;
    co_await asio::async_write(peer, asio::buffer(reply), use_awaitable);
}

// ... and a plain Asio client sends it and checks the answer.
awaitable<void> line_client(asio::ip::tcp::endpoint server, Progress& progress) {
    asio::ip::tcp::socket socket{co_await asio::this_coro::executor};
    co_await socket.async_connect(server, use_awaitable);
    const std::string line = "ping\n";
    co_await asio::async_write(socket, asio::buffer(line), use_awaitable);
    std::string reply;
    co_await asio::async_read_until(socket, asio::dynamic_buffer(reply), '\n', use_awaitable);
    if (reply != "echo: ping\n") {
        throw std::runtime_error("plain TCP: unexpected reply " + reply);
    }
    std::cout << "plain TCP: " << reply;
    progress.line_echoed = true;
}

int run() {
    // Declared in this order, destroyed in reverse: the io_context (with any coroutine still
    // suspended, and its receivers) first, then the groups, then the engine.
    auto engine = tofu::Reactor::create(tofu::Options{});
    tofu::ChannelGroupPtr server_group = engine->create();
    tofu::ChannelGroupPtr client_group = engine->create();
    asio::io_context io;
    Progress progress;
    asio::co_spawn(io, tofu_server(*engine, *server_group, *client_group, progress), rethrow);
    asio::co_spawn(io, ticker(progress), rethrow);
    asio::ip::tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
    const asio::ip::tcp::endpoint line_endpoint = acceptor.local_endpoint();
    asio::co_spawn(io, line_server(std::move(acceptor)), rethrow);
    asio::co_spawn(io, line_client(line_endpoint, progress), rethrow);

    io.run_for(patience);  // returns once every coroutine has finished, or at the deadline
    if (!progress.served || !progress.answered || progress.ticked != ticks || !progress.line_echoed) {
        throw std::runtime_error("not everything finished within the deadline");
    }
    std::cout << "tofu, the timer and plain TCP all done on one thread\n";
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

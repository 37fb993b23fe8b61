// first_server: a tofu server. It listens on TCP, accepts every client, answers each Request with a
// Response, and stops once it has answered N Requests and all its clients have said goodbye.
//
//   example_first_server                     serves 3 Requests of a client it starts itself
//   example_first_server 127.0.0.1:7099 5    listens there and stops after 5 Requests
//                                            (then run: example_first_client 127.0.0.1:7099)
//
// With tofu you never touch a socket: listening, accepting and answering are all messages posted to
// a channel group, and everything that happens comes back as a message from wait_receive().
#include <charconv>
#include <chrono>
#include <cstdint>
#include <exception>
#include <future>
#include <iostream>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>

#include <tofu/tofu.hpp>

using namespace std::chrono_literals;

namespace {

constexpr auto patience = 10s;     // the built-in client gives up after waiting this long
constexpr auto idle_limit = 120s;  // the server stops when no message at all arrives this long

// "HOST:PORT" (split at the last ':', so "::1:7099" works too) -> where to listen.
tofu::TcpServerAddress parse_host_port(std::string_view text) {
    const auto colon = text.rfind(':');
    std::uint16_t port = 0;
    if (colon == std::string_view::npos ||
        std::from_chars(text.data() + colon + 1, text.data() + text.size(), port).ec != std::errc{}) {
        throw std::invalid_argument("expected HOST:PORT, got '" + std::string{text} + "'");
    }
    return tofu::TcpServerAddress{std::string{text.substr(0, colon)}, port};
}

// The port a TCP listener got: its WelcomeResponse's `~listen_on` holds the address actually bound
// (port 0 in the request reads back as the port the OS chose).
std::uint16_t bound_port(const tofu::Message& welcome_response) {
    const tofu::ParsedAddress bound = tofu::parse_address(welcome_response);
    const auto* tcp = std::get_if<tofu::TcpServerAddress>(&bound.address);
    if (!bound || tcp == nullptr) {
        throw std::runtime_error("the WelcomeResponse names no TCP address");
    }
    return tcp->port;
}

// The next message for `group`; throws when none arrives in time.
tofu::MessagePtr next(tofu::ChannelGroup& group, std::chrono::nanoseconds timeout) {
    tofu::MessagePtr msg = group.wait_receive(timeout);
    if (!msg) {
        throw std::runtime_error("nothing arrived in time");
    }
    return msg;
}

// The client this server starts for itself when run with no arguments: connect, send `count`
// Requests one after the other, then close gracefully. (example_first_client explains each step.)
void run_own_client(tofu::Ampe& engine, std::uint16_t port, int count) {
    tofu::ChannelGroupPtr group = engine.create();
    tofu::MessagePtr hello = engine.get(tofu::AllocationStrategy::always);
    tofu::TcpClientAddress{"127.0.0.1", port}.format(*hello);
    const std::uint16_t channel = group->post(hello).channel_number;
    if (next(*group, patience)->bhdr.proto.op_code != tofu::OpCode::hello_response) {
        throw std::runtime_error("client: not accepted");
    }
    for (int i = 1; i <= count; ++i) {
        tofu::MessagePtr request = engine.get(tofu::AllocationStrategy::always);
        request->bhdr.channel_number = channel;
        request->body.copy("question " + std::to_string(i));
        group->post(request);
        tofu::MessagePtr answer = next(*group, patience);
        std::cout << "client: got \"" << answer->body.text() << "\"\n";
    }
    tofu::MessagePtr bye = engine.get(tofu::AllocationStrategy::always);
    bye->bhdr.proto.op_code = tofu::OpCode::bye_request;
    bye->bhdr.channel_number = channel;
    group->post(bye);
    while (next(*group, patience)->bhdr.status != tofu::AmpeStatus::channel_closed) {
        // the ByeResponse; channel_closed follows it
    }
}

// Posts the answer `msg` back. A client may vanish between its message and our answer: then post()
// refuses (the channel is no longer open) or the answer comes back later with a status. Neither is
// fatal for a server, so this post() reports a refusal in `ec` instead of throwing.
void answer(tofu::ChannelGroup& group, tofu::MessagePtr& msg) {
    std::error_code ec;
    group.post(msg, ec);
    if (ec) {
        std::cout << "server: could not answer on channel " << msg->bhdr.channel_number << ": "
                  << ec.message() << '\n';
    }
}

int run(std::span<char*> args) {
    const tofu::TcpServerAddress where =
        args.size() > 1 ? parse_host_port(args[1]) : tofu::TcpServerAddress{"127.0.0.1", 0};
    const int to_answer = args.size() > 2 ? std::stoi(args[2]) : 3;

    // One engine per process is typical; a channel group is a set of channels sharing one queue.
    auto engine = tofu::Reactor::create(tofu::Options{});
    tofu::ChannelGroupPtr server = engine->create();

    // Listen: a WelcomeRequest to our own engine. The WelcomeResponse (or the failed request) answers.
    tofu::MessagePtr welcome = engine->get(tofu::AllocationStrategy::always);
    where.format(*welcome);
    const std::uint16_t listener = server->post(welcome).channel_number;
    tofu::MessagePtr ready = next(*server, patience);
    if (ready->bhdr.status != tofu::AmpeStatus::success) {
        std::cerr << "cannot listen on " << where.to_string() << ": " << tofu::status_name(ready->bhdr.status)
                  << '\n';
        return 1;
    }
    const std::uint16_t port = bound_port(*ready);
    std::cout << "server: listening on " << where.ip << ':' << port << '\n';

    std::future<void> own_client;  // with no arguments, a client of our own in another thread
    if (args.size() <= 1) {
        own_client = std::async(std::launch::async, run_own_client, std::ref(*engine), port, to_answer);
    }

    std::set<std::uint16_t> clients;  // the channels of connected clients
    int answered = 0;
    while (answered < to_answer || !clients.empty()) {
        tofu::MessagePtr msg = server->wait_receive(idle_limit);
        if (!msg) {
            std::cerr << "server: nothing happened for " << idle_limit.count() << " s, stopping\n";
            return 1;
        }
        const std::uint16_t channel = msg->bhdr.channel_number;
        switch (tofu::classify(*msg)) {  // who made it, and why it is here
            case tofu::Received::from_peer: break;
            case tofu::Received::report:  // tofu's news about a channel; pool_empty is just backpressure
                if (msg->bhdr.status == tofu::AmpeStatus::channel_closed) {
                    if (channel == listener) {
                        throw std::runtime_error("the listener closed");
                    }
                    clients.erase(channel);
                    const tofu::AmpeStatus reason =
                        tofu::close_reason(*msg).value_or(tofu::AmpeStatus::unknown_error);
                    std::cout << "server: channel " << channel << " closed, reason "
                              << tofu::status_name(reason) << '\n';
                }
                continue;
            case tofu::Received::returned:  // an answer of ours the client left too early to get
            case tofu::Received::wake_up: std::cout << "server: " << *msg << '\n'; continue;
        }
        switch (msg->bhdr.proto.op_code) {
            case tofu::OpCode::hello_request:  // a new client: accept it by answering HelloResponse
                clients.insert(channel);
                msg->bhdr.proto.op_code = tofu::OpCode::hello_response;
                msg->thdrs.reset();
                answer(*server, msg);
                break;
            case tofu::OpCode::request: {  // the Response keeps the Request's channel and message id
                const std::string reply = "you said: " + std::string{msg->body.text()};
                msg->bhdr.proto.op_code = tofu::OpCode::response;
                msg->body.copy(reply);
                answer(*server, msg);
                ++answered;
                break;
            }
            case tofu::OpCode::bye_request:  // the client is leaving: acknowledge, the channel then closes
                msg->bhdr.proto.op_code = tofu::OpCode::bye_response;
                answer(*server, msg);
                break;
            default: break;  // Signals, ByeResponses: nothing to do
        }
    }
    std::cout << "server: answered " << answered << " requests, stopping\n";
    if (own_client.valid()) {
        own_client.get();  // rethrows what went wrong in the client thread
    }
    return 0;  // `server` dies before `engine`: the listener closes, then the engine stops
}

}  // namespace

int main(int argc, char* argv[]) {
    try {
        return run(std::span{argv, static_cast<std::size_t>(argc)});
    } catch (const tofu::Error& e) {  // what failed, and the AmpeStatus saying why
        std::cerr << "tofu error: " << e.what() << " (status " << tofu::status_name(e.status()) << ")\n";
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
    }
    return 1;
}

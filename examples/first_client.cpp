// first_client: a tofu client. It connects to a server, sends one Request, prints the Response and
// closes the connection gracefully: ByeRequest -> ByeResponse -> channel_closed.
//
//   example_first_client                   talks to a server it starts itself, in this process
//   example_first_client 127.0.0.1:7099    talks to a running server (e.g. example_first_server)
#include <charconv>
#include <chrono>
#include <cstdint>
#include <exception>
#include <future>
#include <iostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include <tofu/tofu.hpp>

using namespace std::chrono_literals;

namespace {

constexpr auto patience = 10s;  // how long we wait for any one answer before giving up

// "HOST:PORT" (split at the last ':', so "::1:7099" works too) -> where to connect.
tofu::TcpClientAddress parse_host_port(std::string_view text) {
    const auto colon = text.rfind(':');
    std::uint16_t port = 0;
    if (colon == std::string_view::npos ||
        std::from_chars(text.data() + colon + 1, text.data() + text.size(), port).ec != std::errc{}) {
        throw std::invalid_argument("expected HOST:PORT, got '" + std::string{text} + "'");
    }
    return tofu::TcpClientAddress{std::string{text.substr(0, colon)}, port};
}

// The next message for `group`; throws when none arrives in time.
tofu::MessagePtr next(tofu::ChannelGroup& group) {
    tofu::MessagePtr msg = group.wait_receive(patience);
    if (!msg) {
        throw std::runtime_error("no answer within " + std::to_string(patience.count()) + " s");
    }
    return msg;
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

// With no arguments we need a server: this one accepts one client in its own thread, answers its
// Requests and its ByeRequest, and returns when that client's channel has closed.
void serve_one_client(tofu::ChannelGroup& server, std::uint16_t listener) {
    for (;;) {
        tofu::MessagePtr msg = next(server);
        if (tofu::classify(*msg) != tofu::Received::from_peer) {  // tofu's: the client's close ends us
            if (msg->bhdr.status == tofu::AmpeStatus::channel_closed &&
                msg->bhdr.channel_number != listener) {
                return;
            }
            continue;
        }
        if (msg->bhdr.proto.op_code == tofu::OpCode::hello_request) {
            std::cout << "server: a client connected (Client: " << msg->thdrs.find("Client").value_or("?")
                      << ")\n";
        } else if (msg->bhdr.proto.op_code == tofu::OpCode::request) {
            msg->body.copy("hello to you too");
        }
        // Answer in place: HelloRequest -> HelloResponse (accept), Request -> Response,
        // ByeRequest -> ByeResponse. The answer keeps the channel number and the message id.
        msg->bhdr.proto.op_code = tofu::echo(msg->bhdr.proto.op_code);
        server.post(msg);
    }
}

int run(std::span<char*> args) {
    auto engine = tofu::Reactor::create(tofu::Options{});

    // No address given: start a server in this process, on a port the OS picks.
    tofu::ChannelGroupPtr server_group;
    std::future<void> server;
    tofu::TcpClientAddress to{"127.0.0.1", 0};
    if (args.size() > 1) {
        to = parse_host_port(args[1]);
    } else {
        server_group = engine->create();
        tofu::MessagePtr welcome = engine->get(tofu::AllocationStrategy::always);
        tofu::TcpServerAddress{"127.0.0.1", 0}.format(*welcome);
        const std::uint16_t listener = server_group->post(welcome).channel_number;
        tofu::MessagePtr ready = next(*server_group);
        if (ready->bhdr.status != tofu::AmpeStatus::success) {
            throw tofu::Error{ready->bhdr.status, "listen"};
        }
        to.port = bound_port(*ready);
        server = std::async(std::launch::async, serve_one_client, std::ref(*server_group), listener);
    }

    // Connect: a HelloRequest carrying `~connect_to`. Our own text headers travel with it.
    tofu::ChannelGroupPtr client = engine->create();
    tofu::MessagePtr hello = engine->get(tofu::AllocationStrategy::always);
    to.format(*hello);
    hello->thdrs.append("Client", "first_client");
    // Give up after 5 s without a HelloResponse (Options::connect_timeout, 10 s, is for every
    // connect; this header for this one): the HelloRequest then comes back with connect_failed.
    hello->thdrs.append(tofu::header::connect_timeout, "5000");
    const std::uint16_t channel = client->post(hello).channel_number;  // post() assigned the channel

    // Accepted: the server's HelloResponse arrives. Unreachable or silent: the HelloRequest comes
    // back from the engine with a status such as connect_failed, then channel_closed follows. Refused (the
    // server answered ByeSignal): channel_closed arrives, its `~reason` says why.
    tofu::MessagePtr reply = next(*client);
    if (reply->bhdr.proto.op_code != tofu::OpCode::hello_response || reply->is_from_engine()) {
        std::cerr << "could not connect to " << to.to_string() << ": " << *reply
                  << '\n';  // one line, all of it
        return 1;
    }
    std::cout << "connected to " << to.to_string() << " on channel " << channel << '\n';

    // A Request: any text headers, any body. post() returns the header it assigned, message id included.
    tofu::MessagePtr request = engine->get(tofu::AllocationStrategy::always);
    request->bhdr.channel_number = channel;
    request->thdrs.append("Job", "greet");
    request->body.copy("hello, tofu");
    const std::uint64_t id = client->post(request).message_id;

    tofu::MessagePtr response = next(*client);
    if (response->bhdr.proto.op_code != tofu::OpCode::response || response->bhdr.message_id != id) {
        std::cerr << "expected the Response to message " << id << ", got status "
                  << tofu::status_name(response->bhdr.status) << '\n';
        return 1;
    }
    std::cout << "response to message " << id << ": \"" << response->body.text() << "\"\n";

    // Close gracefully: ByeRequest goes out after everything posted before it. The server answers
    // ByeResponse; then tofu reports channel_closed with `~reason:success`.
    tofu::MessagePtr bye = engine->get(tofu::AllocationStrategy::always);
    bye->bhdr.proto.op_code = tofu::OpCode::bye_request;
    bye->bhdr.channel_number = channel;
    client->post(bye);
    tofu::MessagePtr bye_response = next(*client);
    tofu::MessagePtr closed = next(*client);
    const std::string_view reason = closed->thdrs.find(tofu::header::reason).value_or("?");
    std::cout << "closed: " << tofu::op_code_name(bye_response->bhdr.proto.op_code) << ", then "
              << tofu::status_name(closed->bhdr.status) << " (reason " << reason << ")\n";

    if (server.valid()) {
        server.get();  // the in-process server returns once our channel closed; rethrows its errors
    }
    return bye_response->bhdr.proto.op_code == tofu::OpCode::bye_response && reason == "success" ? 0 : 1;
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

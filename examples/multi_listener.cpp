// multi_listener: one channel group listening on TCP and on a Unix domain socket at once.
//
//   example_multi_listener
//
// A group can own any number of listeners and connections; all of them share the group's one
// receive queue, so a single wait_receive() loop serves clients of every transport. Here a server
// thread runs that loop; the main thread connects one client over TCP and one over UDS (both
// channels in one client group: a client can multiplex too) and sends a Request on each.
#include <chrono>
#include <cstdint>
#include <exception>
#include <future>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include <tofu/testing.hpp>
#include <tofu/tofu.hpp>

using namespace std::chrono_literals;

namespace {

constexpr auto patience = 10s;  // how long we wait for any one message before giving up

tofu::MessagePtr next(tofu::ChannelGroup& group) {
    tofu::MessagePtr msg = group.wait_receive(patience);
    if (!msg) {
        throw std::runtime_error("nothing arrived in time");
    }
    // A status other than success is a report from the engine; here all but channel_closed are errors.
    if (msg->bhdr.status != tofu::AmpeStatus::success &&
        msg->bhdr.status != tofu::AmpeStatus::channel_closed) {
        throw tofu::Error{msg->bhdr.status, tofu::to_string(*msg)};  // the whole message, as one line
    }
    return msg;
}

// Server thread: one loop for both listeners (`transport_of`: listener channel -> "tcp" or "uds").
// Accepts clients, answers each Request with the transport of the listener the client came
// through, acknowledges goodbyes; returns once `clients` channels closed.
void serve(tofu::ChannelGroup& group, const std::map<std::string, std::string>& transport_of, int clients) {
    std::map<std::uint16_t, std::string> transport;  // channel -> "tcp" or "uds"
    while (clients > 0) {
        tofu::MessagePtr msg = next(group);
        const std::uint16_t channel = msg->bhdr.channel_number;
        switch (msg->bhdr.proto.op_code) {
            case tofu::OpCode::hello_request: {
                // The engine writes on every HelloRequest it delivers `~listener`, the channel number
                // of the listener that accepted it, and `~peer`, who connected as it saw them (e.g.
                // "tcp|127.0.0.1|50412", "uds|uid=1000|gid=1000|pid=42").
                const std::string listener{msg->thdrs.find(tofu::header::listener).value_or("?")};
                const std::string_view peer = msg->thdrs.find(tofu::header::peer).value_or("?");
                transport[channel] = transport_of.at(listener);
                std::cout << "server: channel " << channel << " came through listener " << listener
                          << " from " << peer << '\n';
                msg->bhdr.proto.op_code = tofu::OpCode::hello_response;
                group.post(msg);
                break;
            }
            case tofu::OpCode::request:
                msg->bhdr.proto.op_code = tofu::OpCode::response;
                msg->body.copy("served over " + transport[channel]);
                group.post(msg);
                break;
            case tofu::OpCode::bye_request:
                msg->bhdr.proto.op_code = tofu::OpCode::bye_response;
                group.post(msg);
                break;
            case tofu::OpCode::signal:
                if (msg->bhdr.status == tofu::AmpeStatus::channel_closed) {  // a client has gone
                    --clients;
                }
                break;
            default: break;
        }
    }
}

struct Listening {
    std::uint16_t channel;  // the listener's channel: what `~listener` names
    std::string bound;      // `~listen_on`: the address actually bound
};

// Posts a WelcomeRequest for `where` and waits for its WelcomeResponse.
Listening listen(tofu::Ampe& engine, tofu::ChannelGroup& group, const tofu::Address& where) {
    tofu::MessagePtr welcome = engine.get(tofu::AllocationStrategy::always);
    tofu::format(*welcome, where);
    const std::uint16_t channel = group.post(welcome).channel_number;
    tofu::MessagePtr ready = next(group);  // throws if the listen failed
    return {channel, std::string{ready->thdrs.find(tofu::header::listen_on).value_or("")}};
}

int run() {
    auto engine = tofu::Reactor::create(tofu::Options{});
    tofu::ChannelGroupPtr server = engine->create();

    // Two listeners in one group: TCP on a port the OS picks, UDS on a fresh temporary path.
    const Listening tcp_listener = listen(*engine, *server, tofu::TcpServerAddress{"127.0.0.1", 0});
    const std::string uds_path = tofu::testing::temp_uds_path("multi-listener");
    const Listening uds_listener = listen(*engine, *server, tofu::UdsServerAddress{uds_path});
    std::cout << "listening on " << tcp_listener.bound << " and " << uds_listener.bound << '\n';
    const tofu::ParsedAddress tcp = tofu::parse_address(tcp_listener.bound, tofu::AddressRole::server);
    const auto port = std::get<tofu::TcpServerAddress>(tcp.address).port;
    const std::map<std::string, std::string> transport_of{{std::to_string(tcp_listener.channel), "tcp"},
                                                          {std::to_string(uds_listener.channel), "uds"}};

    auto served = std::async(std::launch::async, serve, std::ref(*server), std::cref(transport_of), 2);

    // Two connections in one client group; each Request is posted right after its HelloRequest.
    tofu::ChannelGroupPtr client = engine->create();
    const tofu::Address tcp_client = tofu::TcpClientAddress{"127.0.0.1", port};
    const tofu::Address uds_client = tofu::UdsClientAddress{uds_path};
    std::map<std::uint16_t, std::string> expected;  // channel -> the answer we expect on it
    for (const tofu::Address& to : {tcp_client, uds_client}) {
        tofu::MessagePtr hello = engine->get(tofu::AllocationStrategy::always);
        tofu::format(*hello, to);
        const std::uint16_t channel = client->post(hello).channel_number;
        tofu::MessagePtr request = engine->get(tofu::AllocationStrategy::always);
        request->bhdr.channel_number = channel;
        request->body.copy("which way did I come?");
        client->post(request);
        expected[channel] = "served over " + tofu::to_string(to).substr(0, 3);  // "tcp|..." or "uds|..."
    }

    // Both channels report to the same client queue; the channel number says which is which.
    for (int responses = 0; responses < 2;) {
        tofu::MessagePtr msg = next(*client);
        const std::uint16_t channel = msg->bhdr.channel_number;
        if (msg->bhdr.proto.op_code != tofu::OpCode::response) {
            continue;  // the HelloResponses
        }
        std::cout << "client: channel " << channel << ": " << msg->body.text() << '\n';
        if (msg->body.text() != expected.at(channel)) {
            throw std::runtime_error("unexpected answer");
        }
        ++responses;
        tofu::MessagePtr bye = engine->get(tofu::AllocationStrategy::always);
        bye->bhdr.proto.op_code = tofu::OpCode::bye_request;
        bye->bhdr.channel_number = channel;
        client->post(bye);
    }
    for (int closed = 0; closed < 2;) {  // each channel: ByeResponse, then channel_closed
        closed += next(*client)->bhdr.status == tofu::AmpeStatus::channel_closed ? 1 : 0;
    }
    served.get();  // rethrows what went wrong in the server thread
    // Destroying the server group closes both listeners; tofu removes the UDS socket file.
    return 0;
}

}  // namespace

int main() {
    if (!tofu::testing::uds_supported()) {
        std::cerr << "skipped: this system cannot make Unix domain sockets (Wine has no AF_UNIX)\n";
        return 77;  // "skipped" to CTest
    }
    try {
        return run();
    } catch (const tofu::Error& e) {  // what failed, and the AmpeStatus saying why
        std::cerr << "tofu error: " << e.what() << " (status " << tofu::status_name(e.status()) << ")\n";
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
    }
    return 1;
}

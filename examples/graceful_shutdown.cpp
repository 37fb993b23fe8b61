// graceful_shutdown: every way to stop, and what comes back.
//
//   example_graceful_shutdown
//
// 1. Graceful close. ByeRequest goes out after everything posted before it; nothing may be posted
//    after it. The peer answers ByeResponse; both sides get channel_closed, `~reason:success`.
// 2. Abort. A ByeSignal closes a channel at once and resets the socket. Our messages still queued
//    come back with status shutdown_started, then channel_closed `~reason:shutdown_started`; the
//    peer gets channel_closed `~reason:peer_disconnected`.
// 3. A thread blocked in wait_receive(wait_forever) is woken by update_receiver().
// 4. A ByeSignal on a listener stops listening. Then the groups go, then the engine. Messages the
//    application still holds stay valid after that.
//
// Both ends live in this process on one engine; the main thread drives both, one step at a time.
#include <algorithm>
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

#include <tofu/tofu.hpp>

using namespace std::chrono_literals;

namespace {

constexpr auto patience = 10s;  // how long we wait for any one message before giving up

tofu::MessagePtr next(tofu::ChannelGroup& group) {
    tofu::MessagePtr msg = group.wait_receive(patience);
    if (!msg) {
        throw std::runtime_error("nothing arrived in time");
    }
    return msg;
}

tofu::MessagePtr make(tofu::Ampe& engine, tofu::OpCode op, std::uint16_t channel) {
    tofu::MessagePtr msg = engine.get(tofu::AllocationStrategy::always);
    msg->bhdr.proto.op_code = op;
    msg->bhdr.channel_number = channel;
    return msg;
}

// What one side saw until its channel closed.
struct Outcome {
    int received = 0;                          // messages from the peer
    std::map<std::string_view, int> returned;  // our own messages that came back, by status
    // Why it closed: the report's `~reason` read back as a status (success for a graceful close).
    tofu::AmpeStatus reason = tofu::AmpeStatus::unknown_error;
};

// Receives on `channel` until its channel_closed report. With `answer`, answers each Request
// with a Response and a ByeRequest with a ByeResponse, as a server would.
Outcome until_closed(tofu::ChannelGroup& group, std::uint16_t channel, bool answer) {
    Outcome out;
    for (;;) {
        tofu::MessagePtr msg = next(group);
        if (msg->bhdr.channel_number != channel) {
            continue;
        }
        switch (tofu::classify(*msg)) {
            case tofu::Received::from_peer: {
                ++out.received;
                const tofu::OpCode op = msg->bhdr.proto.op_code;
                if (answer && (op == tofu::OpCode::request || op == tofu::OpCode::bye_request)) {
                    msg->bhdr.proto.op_code = tofu::echo(op);
                    group.post(msg);
                }
                break;
            }
            case tofu::Received::report:  // pool_empty is backpressure, not a failure
                if (msg->bhdr.status == tofu::AmpeStatus::channel_closed) {
                    out.reason = tofu::close_reason(*msg).value_or(tofu::AmpeStatus::unknown_error);
                    return out;  // exactly one per close, and always the last word on the channel
                }
                break;
            case tofu::Received::returned:  // posted, never sent (or never confirmed): status says why
                ++out.returned[tofu::status_name(msg->bhdr.status)];
                break;
            case tofu::Received::wake_up: break;
        }
    }
}

void print(std::string_view who, const Outcome& out) {
    std::cout << "  " << who << ": received " << out.received;
    for (const auto& [status, count] : out.returned) {
        std::cout << ", " << count << " came back with " << status;
    }
    std::cout << ", then channel_closed (reason " << tofu::status_name(out.reason) << ")\n";
}

struct Connection {
    std::uint16_t client = 0;  // the channel's number on the client side
    std::uint16_t server = 0;  // and on the server side
};

Connection connect(tofu::Ampe& engine, tofu::ChannelGroup& client, tofu::ChannelGroup& server,
                   std::uint16_t port) {
    tofu::MessagePtr hello = engine.get(tofu::AllocationStrategy::always);
    tofu::TcpClientAddress{"127.0.0.1", port}.format(*hello);
    Connection c{client.post(hello).channel_number, 0};
    tofu::MessagePtr request = next(server);
    c.server = request->bhdr.channel_number;
    request->bhdr.proto.op_code = tofu::OpCode::hello_response;
    server.post(request);
    if (next(client)->bhdr.proto.op_code != tofu::OpCode::hello_response) {
        throw std::runtime_error("not accepted");
    }
    return c;
}

int run() {
    auto engine = tofu::Reactor::create(tofu::Options{});  // first made, last destroyed
    tofu::ChannelGroupPtr server = engine->create();
    tofu::ChannelGroupPtr client = engine->create();

    tofu::MessagePtr welcome = engine->get(tofu::AllocationStrategy::always);
    tofu::TcpServerAddress{"127.0.0.1", 0}.format(*welcome);
    const std::uint16_t listener = server->post(welcome).channel_number;
    tofu::MessagePtr ready = next(*server);
    const tofu::ParsedAddress bound = tofu::parse_address(*ready);
    const auto* tcp = std::get_if<tofu::TcpServerAddress>(&bound.address);
    if (ready->bhdr.status != tofu::AmpeStatus::success || tcp == nullptr) {
        throw tofu::Error{ready->bhdr.status, "listen"};
    }

    std::cout << "1. graceful close: 3 Requests, then ByeRequest\n";
    const Connection first = connect(*engine, *client, *server, tcp->port);
    for (int i = 0; i < 3; ++i) {
        tofu::MessagePtr request = make(*engine, tofu::OpCode::request, first.client);
        client->post(request);
    }
    tofu::MessagePtr bye = make(*engine, tofu::OpCode::bye_request, first.client);
    client->post(bye);
    // After our ByeRequest, post() refuses anything but ByeResponse / ByeSignal on this channel.
    // A refused message stays with us (the pointer is not emptied), its status set like the error's.
    tofu::MessagePtr late = make(*engine, tofu::OpCode::request, first.client);
    late->body.copy("too late");
    try {
        client->post(late);
    } catch (const tofu::Error& e) {
        std::cout << "  a Request after the ByeRequest: post() throws " << tofu::status_name(e.status())
                  << '\n';
    }
    const Outcome server_side = until_closed(*server, first.server, true);
    const Outcome client_side = until_closed(*client, first.client, false);
    print("server", server_side);  // 3 Requests + the ByeRequest, all answered
    print("client", client_side);  // 3 Responses + the ByeResponse
    bool ok = late && late->bhdr.status == tofu::AmpeStatus::not_allowed && server_side.received == 4 &&
              client_side.received == 4 && server_side.reason == tofu::AmpeStatus::success &&
              client_side.reason == tofu::AmpeStatus::success;

    std::cout << "2. abort: 100 big Requests, then at once a ByeSignal\n";
    const Connection second = connect(*engine, *client, *server, tcp->port);
    for (int i = 0; i < 100; ++i) {
        tofu::MessagePtr request = make(*engine, tofu::OpCode::request, second.client);
        request->body.copy(std::string(60'000, 'x'));
        client->post(request);
    }
    tofu::MessagePtr abort = make(*engine, tofu::OpCode::bye_signal, second.client);
    client->post(abort);  // jumps the queue; it does not come back itself
    const Outcome aborted = until_closed(*client, second.client, false);
    const Outcome peer = until_closed(*server, second.server, false);
    print("client", aborted);  // how many were still queued depends on timing
    print("server", peer);     // what was written before the reset (unread bytes die with it)
    ok = ok && aborted.reason == tofu::AmpeStatus::shutdown_started &&
         peer.reason == tofu::AmpeStatus::peer_disconnected &&
         std::ranges::all_of(aborted.returned,
                             [](const auto& entry) { return entry.first == "shutdown_started"; });

    std::cout << "3. update_receiver wakes a thread blocked in wait_receive(wait_forever)\n";
    auto waiter = std::async(std::launch::async, [&group = *server] {
        for (;;) {  // a typical server loop; it has nothing to do now and would wait forever
            tofu::MessagePtr msg = group.wait_receive(tofu::wait_forever);
            if (msg && tofu::classify(*msg) == tofu::Received::wake_up) {
                return std::string{msg->thdrs.find("Command").value_or("")};  // the message we handed over
            }
        }
    });
    // From another thread: hand it a message (or call update_receiver() with none: the thread
    // then receives an engine Signal with status receiver_update).
    tofu::MessagePtr command = engine->get(tofu::AllocationStrategy::always);
    command->thdrs.append("Command", "stop");
    server->update_receiver(std::move(command));
    const std::string woken_by = waiter.get();
    std::cout << "  the waiting thread woke up with Command: " << woken_by << '\n';
    ok = ok && woken_by == "stop";

    std::cout << "4. stop listening, then destroy the groups, then the engine\n";
    tofu::MessagePtr stop_listening = make(*engine, tofu::OpCode::bye_signal, listener);
    server->post(stop_listening);
    const Outcome listener_side = until_closed(*server, listener, false);
    std::cout << "  listener closed (reason " << tofu::status_name(listener_side.reason) << ")\n";
    ok = ok && listener_side.reason == tofu::AmpeStatus::shutdown_started;
    // Destroying a group closes its channels (the peer sees peer_disconnected) and returns its
    // queued messages to the pool. Destroy the groups first and the engine last: after the engine,
    // a group could only hand out what it had already received.
    client.reset();
    server.reset();
    engine.reset();
    // Messages we still hold outlive the engine; they are freed when their pointers die.
    if (late) {
        std::cout << "  still holding \"" << late->body.text() << "\" after the engine is gone\n";
    }
    return ok ? 0 : 1;
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

// request_response: several Requests in flight at once, matched to their Responses by message id.
//
//   example_request_response
//
// One process, one engine, two threads: a server thread and a client thread, each with its own
// channel group. The client posts all its Requests without waiting; the server answers them in the
// reverse order. The client still knows which answer is which: a Response carries the message id of
// its Request, and post() told us that id when we sent the Request.
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
#include <vector>

#include <tofu/tofu.hpp>

using namespace std::chrono_literals;

namespace {

constexpr auto patience = 10s;  // how long we wait for any one message before giving up
constexpr int jobs = 5;         // Requests the client sends

tofu::MessagePtr next(tofu::ChannelGroup& group) {
    tofu::MessagePtr msg = group.wait_receive(patience);
    if (!msg) {
        throw std::runtime_error("nothing arrived in time");
    }
    // A status other than success is a report from the engine. Here every one but channel_closed
    // is a failure: a message of ours came back (e.g. the listen or the connect failed).
    if (msg->bhdr.status != tofu::AmpeStatus::success &&
        msg->bhdr.status != tofu::AmpeStatus::channel_closed) {
        throw tofu::Error{msg->bhdr.status, tofu::to_string(*msg)};  // the whole message, as one line
    }
    return msg;
}

// Server thread: accepts one client, collects its `jobs` Requests (bodies are numbers), answers
// each with the square of its number, last Request first, then acknowledges the client's ByeRequest.
void server(tofu::ChannelGroup& group) {
    std::vector<tofu::MessagePtr> held;  // received Requests, kept until all have arrived
    for (;;) {
        tofu::MessagePtr msg = next(group);
        switch (msg->bhdr.proto.op_code) {
            case tofu::OpCode::hello_request:
            case tofu::OpCode::bye_request:
                msg->bhdr.proto.op_code = tofu::echo(msg->bhdr.proto.op_code);  // accept / acknowledge
                group.post(msg);
                break;
            case tofu::OpCode::request:
                held.push_back(std::move(msg));
                if (held.size() == jobs) {
                    std::reverse(held.begin(), held.end());  // answer the last one first
                    for (tofu::MessagePtr& job : held) {
                        const long n = std::stol(std::string{job->body.text()});
                        job->bhdr.proto.op_code = tofu::OpCode::response;  // same channel, same message id
                        job->body.copy(std::to_string(n * n));
                        group.post(job);
                    }
                    held.clear();
                }
                break;
            case tofu::OpCode::signal:  // channel_closed (origin engine): the client is gone
                if (msg->bhdr.status == tofu::AmpeStatus::channel_closed) {
                    return;
                }
                break;
            default: break;
        }
    }
}

// Client thread: connects, posts every Request at once, then matches Responses to Requests.
void client(tofu::Ampe& engine, tofu::ChannelGroup& group, std::uint16_t port) {
    tofu::MessagePtr hello = engine.get(tofu::AllocationStrategy::always);
    tofu::TcpClientAddress{"127.0.0.1", port}.format(*hello);
    const std::uint16_t channel = group.post(hello).channel_number;

    // No need to wait for the HelloResponse: messages posted now follow the HelloRequest on the wire.
    std::map<std::uint64_t, long> pending;  // message id -> the number we asked about
    for (long n = 1; n <= jobs; ++n) {
        tofu::MessagePtr request = engine.get(tofu::AllocationStrategy::always);
        request->bhdr.channel_number = channel;
        request->body.copy(std::to_string(n * 7));
        // message_id 0 means "assign one": the engine takes the next value of a process-wide counter.
        // (Set your own non-zero id instead if your protocol wants to choose them.)
        const tofu::BinaryHeader posted = group.post(request);
        pending[posted.message_id] = n * 7;
        std::cout << "client: asked about " << n * 7 << " in " << posted << '\n';  // the header, one line
    }

    if (next(group)->bhdr.proto.op_code != tofu::OpCode::hello_response) {
        throw std::runtime_error("expected the HelloResponse first");
    }
    while (!pending.empty()) {
        tofu::MessagePtr response = next(group);
        const auto job = pending.find(response->bhdr.message_id);
        if (response->bhdr.proto.op_code != tofu::OpCode::response || job == pending.end()) {
            throw std::runtime_error("a message that answers none of our Requests: " +
                                     tofu::to_string(*response));
        }
        const long expected = job->second * job->second;
        std::cout << "client: message " << job->first << ": " << job->second << " squared is "
                  << response->body.text() << '\n';
        if (response->body.text() != std::to_string(expected)) {
            throw std::runtime_error("wrong answer");
        }
        pending.erase(job);
    }

    tofu::MessagePtr bye = engine.get(tofu::AllocationStrategy::always);
    bye->bhdr.proto.op_code = tofu::OpCode::bye_request;
    bye->bhdr.channel_number = channel;
    group.post(bye);
    while (next(group)->bhdr.status != tofu::AmpeStatus::channel_closed) {
        // the ByeResponse arrives first, then channel_closed
    }
}

int run() {
    auto engine = tofu::Reactor::create(tofu::Options{});
    tofu::ChannelGroupPtr server_group = engine->create();
    tofu::ChannelGroupPtr client_group = engine->create();

    // Listen before starting the threads, so the client knows the port.
    tofu::MessagePtr welcome = engine->get(tofu::AllocationStrategy::always);
    tofu::TcpServerAddress{"127.0.0.1", 0}.format(*welcome);
    server_group->post(welcome);
    tofu::MessagePtr ready = next(*server_group);  // throws if the listen failed
    const tofu::ParsedAddress bound = tofu::parse_address(*ready);
    const auto* tcp = std::get_if<tofu::TcpServerAddress>(&bound.address);
    if (tcp == nullptr) {
        throw std::runtime_error("the WelcomeResponse names no TCP address");
    }

    // post() and update_receiver() may be called from any thread, wait_receive() from one thread
    // per group at a time: so each thread gets its own group.
    auto server_done = std::async(std::launch::async, server, std::ref(*server_group));
    auto client_done =
        std::async(std::launch::async, client, std::ref(*engine), std::ref(*client_group), tcp->port);
    client_done.get();  // rethrows what went wrong in the thread
    server_done.get();
    std::cout << "all " << jobs << " responses matched their requests\n";
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

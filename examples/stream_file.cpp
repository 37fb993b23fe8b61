// stream_file: sends data of any size as a stream of Requests that share one message id.
//
//   example_stream_file          streams 1,000,000 bytes of generated data
//   example_stream_file PATH     streams the file at PATH
//
// A body holds at most 65535 bytes (tofu::max_part_size). tofu::post_stream sends larger data as
// several Requests with the same message id, `more` set on every one but the last, reading the
// file one part at a time and taking its messages from the pool (backpressure: it waits for sent
// parts to come back rather than queue the whole file). On the server a tofu::StreamAssembler puts
// the parts back together; the server checks the size and a checksum and answers with one Response.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include <tofu/tofu.hpp>

using namespace std::chrono_literals;

namespace {

constexpr auto patience = 10s;  // how long we wait for any one message before giving up

// FNV-1a, 64 bits: a simple checksum.
std::uint64_t fnv1a(std::string_view bytes) {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (const char c : bytes) {
        hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    }
    return hash;
}

tofu::MessagePtr next(tofu::ChannelGroup& group) {
    tofu::MessagePtr msg = group.wait_receive(patience);
    if (!msg) {
        throw std::runtime_error("nothing arrived in time");
    }
    return msg;
}

// Server thread: accepts one client, reassembles its stream, answers with the size and checksum
// it got. Returns when the client has gone.
void server(tofu::ChannelGroup& group) {
    tofu::StreamAssembler assembler{tofu::StreamLimits{.max_payload = 64U << 20U, .max_streams = 4}};
    for (;;) {
        tofu::MessagePtr msg = next(group);
        switch (tofu::classify(*msg)) {
            case tofu::Received::from_peer: break;
            case tofu::Received::report:  // channel_closed ends the server; pool_empty is backpressure
                if (msg->bhdr.status == tofu::AmpeStatus::channel_closed) {
                    return;
                }
                continue;
            case tofu::Received::returned:
            case tofu::Received::wake_up: throw std::runtime_error("unexpected: " + tofu::to_string(*msg));
        }
        const tofu::OpCode op = msg->bhdr.proto.op_code;
        if (op == tofu::OpCode::hello_request || op == tofu::OpCode::bye_request) {
            msg->bhdr.proto.op_code = tofu::echo(op);  // accept / acknowledge the goodbye
            group.post(msg);
            continue;
        }
        tofu::StreamStep step = assembler.add(std::move(msg));
        if (step.drop) {
            throw std::runtime_error(std::string{"stream dropped: "} +
                                     std::string{tofu::stream_error_name(step.drop->error)});
        }
        if (!step.payload) {
            continue;  // more parts to come
        }
        const std::size_t size = step.payload->size();
        const std::uint64_t checksum = fnv1a(step.payload->text());
        std::cout << "server: got " << size << " bytes in " << step.payload->parts() << " parts, checksum "
                  << checksum << '\n';
        tofu::MessagePtr answer = step.payload->take_message();  // same channel and message id
        answer->bhdr.proto.op_code = tofu::OpCode::response;
        answer->thdrs.reset();
        answer->body.reset();
        answer->thdrs.append("Received-size", std::to_string(size));
        answer->thdrs.append("Checksum", std::to_string(checksum));
        group.post(answer);
    }
}

int run(std::span<char*> args) {
    // What to send: the file named on the command line, or generated data.
    std::unique_ptr<std::istream> in;
    std::string generated;
    if (args.size() > 1) {
        in = std::make_unique<std::ifstream>(args[1], std::ios::binary);
        if (!*in) {
            throw std::runtime_error(std::string{"cannot open "} + args[1]);
        }
    } else {
        generated.resize(1'000'000);
        for (std::size_t i = 0; i < generated.size(); ++i) {
            generated[i] = static_cast<char>((i * 2654435761U) >> 13U);
        }
        in = std::make_unique<std::istringstream>(generated);
    }

    auto engine = tofu::Reactor::create(tofu::Options{});
    tofu::ChannelGroupPtr server_group = engine->create();
    tofu::ChannelGroupPtr client = engine->create();

    tofu::MessagePtr welcome = engine->get(tofu::AllocationStrategy::always);
    tofu::TcpServerAddress{"127.0.0.1", 0}.format(*welcome);
    server_group->post(welcome);
    tofu::MessagePtr ready = next(*server_group);
    const tofu::ParsedAddress bound = tofu::parse_address(*ready);
    const auto* tcp = std::get_if<tofu::TcpServerAddress>(&bound.address);
    if (ready->bhdr.status != tofu::AmpeStatus::success || tcp == nullptr) {
        throw tofu::Error{ready->bhdr.status, "listen"};
    }
    auto server_done = std::async(std::launch::async, server, std::ref(*server_group));

    tofu::MessagePtr hello = engine->get(tofu::AllocationStrategy::always);
    tofu::TcpClientAddress{"127.0.0.1", tcp->port}.format(*hello);
    const std::uint16_t channel = client->post(hello).channel_number;
    if (next(*client)->bhdr.proto.op_code != tofu::OpCode::hello_response) {
        throw std::runtime_error("not accepted");
    }

    // The stream's head: its channel, op code and text headers (they travel on the first part).
    tofu::MessagePtr head = engine->get(tofu::AllocationStrategy::always);
    head->bhdr.channel_number = channel;
    head->thdrs.append("File", args.size() > 1 ? args[1] : "generated");
    const tofu::StreamResult sent = tofu::post_stream(*engine, *client, std::move(head), *in);
    std::cout << "client: sent " << sent.bytes << " bytes in " << sent.parts << " parts as message "
              << sent.message_id << ": " << tofu::status_name(sent.status) << '\n';
    if (!sent.ok()) {
        return 1;
    }

    tofu::MessagePtr response = next(*client);
    std::cout << "client: the server received " << response->thdrs.find("Received-size").value_or("?")
              << " bytes\n";
    const bool ok = response->bhdr.message_id == sent.message_id &&
                    response->thdrs.find("Received-size") == std::to_string(sent.bytes) &&
                    (args.size() > 1 || response->thdrs.find("Checksum") == std::to_string(fnv1a(generated)));

    tofu::MessagePtr bye = engine->get(tofu::AllocationStrategy::always);
    bye->bhdr.proto.op_code = tofu::OpCode::bye_request;
    bye->bhdr.channel_number = channel;
    client->post(bye);
    while (next(*client)->bhdr.status != tofu::AmpeStatus::channel_closed) {
        // the ByeResponse arrives first, then channel_closed
    }
    server_done.get();
    return ok ? 0 : 1;
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

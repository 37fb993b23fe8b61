// stream_file: sends data of any size as a stream of Requests that share one message id.
//
//   example_stream_file          streams 1,000,000 bytes of generated data
//   example_stream_file PATH     streams the file at PATH
//
// A body holds at most 65535 bytes (tofu::max_part_size). Larger data travels as several Requests
// with the same message id, `more` set on every one but the last. A server thread reassembles the
// chunks, checks the size and a checksum, and answers with one Response.
#include <algorithm>
#include <charconv>
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
#include <vector>

#include <tofu/tofu.hpp>

using namespace std::chrono_literals;

namespace {

constexpr auto patience = 10s;  // how long we wait for any one message before giving up

// FNV-1a, 64 bits: a simple checksum, fed chunk by chunk.
constexpr std::uint64_t fnv_start = 0xcbf29ce484222325ULL;
std::uint64_t fnv1a(std::uint64_t hash, std::string_view bytes) {
    for (const char c : bytes) {
        hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    }
    return hash;
}

std::uint64_t to_number(std::string_view text) {
    std::uint64_t value = 0;
    if (std::from_chars(text.data(), text.data() + text.size(), value).ec != std::errc{}) {
        throw std::runtime_error("not a number: '" + std::string{text} + "'");
    }
    return value;
}

// The next message for `group`. A status other than success is a report from the engine: here
// channel_closed is expected, pool_empty is skipped (the receiver is slow and tofu stops reading
// until messages go back to the pool: backpressure, not an error), anything else is a failure.
tofu::MessagePtr next(tofu::ChannelGroup& group) {
    for (;;) {
        tofu::MessagePtr msg = group.wait_receive(patience);
        if (!msg) {
            throw std::runtime_error("nothing arrived in time");
        }
        const tofu::AmpeStatus status = msg->bhdr.status;
        if (status == tofu::AmpeStatus::success || status == tofu::AmpeStatus::channel_closed) {
            return msg;
        }
        if (status != tofu::AmpeStatus::pool_empty) {
            throw tofu::Error{status, std::string{tofu::op_code_name(msg->bhdr.proto.op_code)}};
        }
    }
}

// Server thread: accepts one client and reassembles one stream of Requests. The first chunk says
// how big the stream is, the last one carries the sender's checksum; the server checks both and
// answers with one Response. Returns when the client has gone.
void server(tofu::ChannelGroup& group) {
    std::string data;  // the reassembled stream
    std::uint64_t stream_id = 0;
    std::uint64_t expected_size = 0;
    std::uint64_t chunks = 0;
    for (;;) {
        tofu::MessagePtr msg = next(group);
        const tofu::OpCode op = msg->bhdr.proto.op_code;
        if (op == tofu::OpCode::hello_request || op == tofu::OpCode::bye_request) {
            msg->bhdr.proto.op_code = tofu::echo(op);  // accept / acknowledge the goodbye
            group.post(msg);
        } else if (msg->bhdr.status == tofu::AmpeStatus::channel_closed) {
            return;
        } else if (op == tofu::OpCode::request) {
            if (stream_id == 0) {
                stream_id = msg->bhdr.message_id;  // the first chunk starts the stream
                expected_size = to_number(msg->thdrs.find("Stream-size").value_or(""));
            } else if (msg->bhdr.message_id != stream_id) {
                throw std::runtime_error("a chunk of another stream");
            }
            data.append(msg->body.text());  // then `msg` dies and goes back to the pool
            ++chunks;
            if (msg->has_more()) {
                continue;
            }
            // The last chunk: check, and answer with one Response (same channel and id, `more` clear).
            const std::uint64_t checksum = fnv1a(fnv_start, data);
            const bool ok = data.size() == expected_size &&
                            to_number(msg->thdrs.find("Checksum").value_or("")) == checksum;
            std::cout << "server: got " << data.size() << " bytes in " << chunks << " chunks, checksum "
                      << checksum << (ok ? ": as announced\n" : ": NOT as announced\n");
            msg->bhdr.proto.op_code = tofu::OpCode::response;
            msg->thdrs.reset();
            msg->thdrs.append("Result", ok ? "ok" : "mismatch");
            msg->thdrs.append("Received-size", std::to_string(data.size()));
            group.post(msg);
        }
    }
}

// Posts `size` bytes from `in` as Requests of at most max_part_size bytes; returns the stream's id.
std::uint64_t send_stream(tofu::Ampe& engine, tofu::ChannelGroup& group, std::uint16_t channel,
                          std::istream& in, std::uint64_t size) {
    std::vector<char> chunk(tofu::max_part_size);
    std::uint64_t id = 0;  // 0: post() assigns the id to the first chunk; the others reuse it
    std::uint64_t sent = 0;
    std::uint64_t checksum = fnv_start;
    do {  // at least once: an empty file is one empty Request
        const std::uint64_t n = std::min<std::uint64_t>(chunk.size(), size - sent);
        if (!in.read(chunk.data(), static_cast<std::streamsize>(n))) {
            throw std::runtime_error("the input ended early");
        }
        const std::string_view bytes{chunk.data(), static_cast<std::size_t>(n)};
        checksum = fnv1a(checksum, bytes);
        sent += n;

        tofu::MessagePtr msg = engine.get(tofu::AllocationStrategy::always);
        msg->bhdr.channel_number = channel;
        msg->bhdr.message_id = id;
        msg->bhdr.proto.more = sent < size;  // more chunks of this id follow
        if (id == 0) {
            msg->thdrs.append("Stream-size", std::to_string(size));  // any text headers, on any chunk
        }
        if (!msg->has_more()) {
            msg->thdrs.append("Checksum", std::to_string(checksum));
        }
        msg->body.copy(bytes);
        id = group.post(msg).message_id;
        // Every chunk is queued at once, so a big file sits in memory until it is written. A real
        // sender would limit what it has in flight, e.g. wait for an acknowledgement every N chunks.
    } while (sent < size);
    std::cout << "client: sent " << size << " bytes as message " << id << ", checksum " << checksum << '\n';
    return id;
}

int run(std::span<char*> args) {
    // What to send: the file named on the command line, or generated data.
    std::unique_ptr<std::istream> in;
    std::uint64_t size = 0;
    if (args.size() > 1) {
        size = std::filesystem::file_size(args[1]);
        in = std::make_unique<std::ifstream>(args[1], std::ios::binary);
        if (!*in) {
            throw std::runtime_error(std::string{"cannot open "} + args[1]);
        }
    } else {
        std::string generated(1'000'000, '\0');
        for (std::size_t i = 0; i < generated.size(); ++i) {
            generated[i] = static_cast<char>((i * 2654435761U) >> 13U);
        }
        size = generated.size();
        in = std::make_unique<std::istringstream>(std::move(generated));
    }

    auto engine = tofu::Reactor::create(tofu::Options{});
    tofu::ChannelGroupPtr server_group = engine->create();
    tofu::ChannelGroupPtr client = engine->create();

    tofu::MessagePtr welcome = engine->get(tofu::AllocationStrategy::always);
    tofu::TcpServerAddress{"127.0.0.1", 0}.format(*welcome);
    server_group->post(welcome);
    tofu::MessagePtr ready = next(*server_group);  // throws if the listen failed
    const tofu::ParsedAddress bound = tofu::parse_address(*ready);
    const auto* tcp = std::get_if<tofu::TcpServerAddress>(&bound.address);
    if (tcp == nullptr) {
        throw std::runtime_error("the WelcomeResponse names no TCP address");
    }
    auto server_done = std::async(std::launch::async, server, std::ref(*server_group));

    tofu::MessagePtr hello = engine->get(tofu::AllocationStrategy::always);
    tofu::TcpClientAddress{"127.0.0.1", tcp->port}.format(*hello);
    const std::uint16_t channel = client->post(hello).channel_number;
    if (next(*client)->bhdr.proto.op_code != tofu::OpCode::hello_response) {
        throw std::runtime_error("not accepted");
    }

    const std::uint64_t id = send_stream(*engine, *client, channel, *in, size);

    tofu::MessagePtr response = next(*client);
    const bool ok = response->bhdr.proto.op_code == tofu::OpCode::response &&
                    response->bhdr.message_id == id && response->thdrs.find("Result") == "ok";
    std::cout << "client: the server received " << response->thdrs.find("Received-size").value_or("?")
              << " bytes: " << response->thdrs.find("Result").value_or("?") << '\n';

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

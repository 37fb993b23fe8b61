#include "scale.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <tofu/tofu.hpp>

#include "child_process.hpp"
#include "contender.hpp"
#include "receive.hpp"
#include "runner.hpp"

namespace tofu::bench {
namespace {

constexpr auto silence_limit = std::chrono::seconds{60};
constexpr std::size_t connect_batch = 1000;  // connects in flight at once (below the listen backlog)
constexpr std::size_t in_flight = 1024;      // requests in flight over all channels
constexpr std::uint32_t pool_msgs = 4096;
constexpr std::size_t spare_fds = 64;

/// Raises the soft descriptor limit to the hard one; returns how many descriptors we may use.
std::size_t raise_fd_limit() {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    return limit.rlim_cur == RLIM_INFINITY ? SIZE_MAX : static_cast<std::size_t>(limit.rlim_cur);
}

/// A field of /proc/self/status in KiB (VmRSS, VmHWM).
double status_kib(const std::string& field) {
    std::ifstream in{"/proc/self/status"};
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with(field + ":")) {
            return std::stod(line.substr(field.size() + 1));
        }
    }
    return 0;
}

MessagePtr receive(ChannelGroup& group) {
    return receive_within(group, silence_limit, "scale");
}

/// The server's receive loop: accepts every client, answers every request, ends when `expected`
/// channels have closed. Counts the requests it answered.
void serve(ChannelGroup& group, std::size_t expected, std::atomic<std::size_t>& answered) {
    std::size_t closed = 0;
    while (closed < expected) {
        MessagePtr msg = receive(group);
        switch (msg->bhdr.proto.op_code) {
            case OpCode::hello_request: msg->bhdr.proto.op_code = OpCode::hello_response; break;
            case OpCode::request:
                msg->bhdr.proto.op_code = OpCode::response;
                answered.fetch_add(1, std::memory_order_relaxed);
                break;
            default:
                if (msg->is_from_engine() && msg->bhdr.status == AmpeStatus::channel_closed) {
                    ++closed;
                } else if (msg->is_from_engine() && msg->bhdr.status != AmpeStatus::pool_empty) {
                    fail("scale", "server: " + std::string{status_name(msg->bhdr.status)});
                }
                continue;
        }
        group.post(msg);
    }
}

/// The server's half of the test, in this process.
ScaleResult serve_scale(std::size_t connections, std::size_t rounds) {
    ScaleResult result;
    const std::size_t usable = raise_fd_limit() - spare_fds;
    if (connections > usable) {
        result.note = "descriptor limit: " + std::to_string(usable) + " of " + std::to_string(connections);
        connections = usable;
    }
    result.connections = connections;

    auto engine = Reactor::create(Options{.initial_pool_msgs = pool_msgs, .max_pool_msgs = pool_msgs});
    const ChannelGroupPtr group = engine->create();
    MessagePtr welcome = engine->get(AllocationStrategy::always);
    TcpServerAddress{"127.0.0.1", 0}.format(*welcome);
    group->post(welcome);
    MessagePtr ready = receive(*group);
    const ParsedAddress bound = parse_address(*ready);
    const auto* tcp = std::get_if<TcpServerAddress>(&bound.address);
    if (ready->bhdr.status != AmpeStatus::success || tcp == nullptr) {
        fail("scale", "listen: " + std::string{status_name(ready->bhdr.status)});
    }
    const double rss_listening = status_kib("VmRSS");

    std::atomic<std::size_t> answered{0};
    std::exception_ptr server_error;
    std::thread server{[&] {
        try {
            serve(*group, connections, answered);
        } catch (...) {
            server_error = std::current_exception();
        }
    }};
    const auto join = [&] {
        if (server.joinable()) {
            server.join();
        }
    };
    try {
        ChildProcess client{{self_path(), "scale-client", "--port", std::to_string(tcp->port),
                             "--connections", std::to_string(connections), "--rounds",
                             std::to_string(rounds)}};
        if (client.read_line(silence_limit * 4) != "connected") {
            fail("scale", "the client process did not connect (see its error above)");
        }
        result.server_rss_mib = status_kib("VmRSS") / 1024;
        result.rss_per_connection_kib =
            (status_kib("VmRSS") - rss_listening) / static_cast<double>(connections);
        Stopwatch server_cpu;  // the server's CPU while the measured requests flow
        server_cpu.start();
        const std::optional<std::string> line = client.read_line(silence_limit * 4);
        server_cpu.stop();
        const double cpu_used = server_cpu.cpu_seconds();
        std::istringstream in{line.value_or("")};
        std::string word;
        double seconds = 0;
        if (!(in >> word >> seconds >> result.requests) || word != "result") {
            fail("scale", "the client process gave no result (see its error above)");
        }
        if (const int code = client.wait(); code != 0) {
            fail("scale", "the client process exited with " + std::to_string(code));
        }
        result.requests_per_s = static_cast<double>(result.requests) / std::max(seconds, 1e-9);
        result.cpu_per_m = cpu_used / static_cast<double>(result.requests) * 1e6;
    } catch (...) {
        engine.reset();  // closes every channel: the server thread ends
        join();
        throw;
    }
    join();
    if (server_error) {
        std::rethrow_exception(server_error);
    }
    result.server_peak_rss_mib = status_kib("VmHWM") / 1024;
    return result;
}

}  // namespace

ScaleResult run_scale(std::size_t connections, std::size_t rounds) {
    ChildProcess server{{self_path(), "scale-server", "--connections", std::to_string(connections),
                         "--rounds", std::to_string(rounds)}};
    const std::optional<std::string> line = server.read_line(silence_limit * 10);
    ScaleResult r;
    std::istringstream in{line.value_or("")};
    std::string word;
    in >> word >> r.connections >> r.requests >> r.requests_per_s >> r.server_rss_mib >>
        r.server_peak_rss_mib >> r.rss_per_connection_kib >> r.cpu_per_m;
    if (!in || word != "scale") {
        fail("scale", "the server process gave no result (see its error above)");
    }
    std::getline(in >> std::ws, r.note);
    if (const int code = server.wait(); code != 0) {
        fail("scale", "the server process exited with " + std::to_string(code));
    }
    return r;
}

void run_scale_server(std::size_t connections, std::size_t rounds) {
    const ScaleResult r = serve_scale(connections, rounds);
    std::printf("scale %zu %zu %.3f %.3f %.3f %.4f %.4f %s\n", r.connections, r.requests, r.requests_per_s,
                r.server_rss_mib, r.server_peak_rss_mib, r.rss_per_connection_kib, r.cpu_per_m,
                r.note.c_str());
    std::fflush(stdout);
}

void run_scale_client(std::uint16_t port, std::size_t connections, std::size_t rounds) {
    if (raise_fd_limit() < connections + spare_fds) {
        fail("scale", "client: the descriptor limit is below " + std::to_string(connections + spare_fds));
    }
    auto engine = Reactor::create(Options{.initial_pool_msgs = pool_msgs, .max_pool_msgs = pool_msgs});
    const ChannelGroupPtr group = engine->create();

    // Connect in batches, so the listen backlog never overflows.
    std::vector<std::uint16_t> channels;
    channels.reserve(connections);
    while (channels.size() < connections) {
        const std::size_t batch = std::min(connect_batch, connections - channels.size());
        for (std::size_t i = 0; i < batch; ++i) {
            MessagePtr hello = engine->get(AllocationStrategy::always);
            TcpClientAddress{"127.0.0.1", port}.format(*hello);
            channels.push_back(group->post(hello).channel_number);
        }
        for (std::size_t i = 0; i < batch; ++i) {
            const MessagePtr msg = receive(*group);
            if (msg->bhdr.proto.op_code != OpCode::hello_response ||
                msg->bhdr.status != AmpeStatus::success) {
                fail("scale", "client: connect: " + std::string{status_name(msg->bhdr.status)});
            }
        }
    }

    // A window of requests in flight; each response goes out again as the next request, to the
    // next channel in turn, until every channel made `rounds` requests.
    const auto exchange = [&](std::size_t total) {
        std::size_t posted = 0;
        std::size_t answered = 0;
        const auto post_next = [&](MessagePtr& msg) {
            msg->bhdr.proto.op_code = OpCode::request;
            msg->bhdr.channel_number = channels[posted % channels.size()];
            msg->bhdr.message_id = 0;
            group->post(msg);
            ++posted;
        };
        for (std::size_t i = 0; i < std::min(in_flight, total); ++i) {
            MessagePtr msg = engine->get(AllocationStrategy::always);
            msg->body.copy("ping");
            post_next(msg);
        }
        while (answered < total) {
            MessagePtr msg = receive(*group);
            if (msg->bhdr.proto.op_code != OpCode::response) {
                if (msg->is_from_engine() && msg->bhdr.status == AmpeStatus::pool_empty) {
                    continue;
                }
                fail("scale", "client: " + std::string{status_name(msg->bhdr.status)} + " (" +
                                  std::string{op_code_name(msg->bhdr.proto.op_code)} + ")");
            }
            ++answered;
            if (posted < total) {
                post_next(msg);
            }
        }
    };
    exchange(connections);  // warm-up: every channel once
    std::printf("connected\n");
    std::fflush(stdout);
    const auto start = std::chrono::steady_clock::now();
    exchange(connections * rounds);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    std::printf("result %.9f %zu\n", took.count(), connections * rounds);
    std::fflush(stdout);
}

}  // namespace tofu::bench

#include "runner.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <future>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#include <tofu/testing.hpp>

#include "child_process.hpp"

namespace tofu::bench {
namespace {

constexpr auto side_patience = std::chrono::seconds{120};  // longest a side process may stay silent
constexpr std::size_t min_messages = 1000;                 // a measured trial moves at least this many

/// Messages in the probe trial that sets a library's pace.
std::size_t probe_messages(Test test) {
    return test == Test::throughput ? 20'000 : 1'000;
}

std::string& self_path_storage() {
    static std::string path;
    return path;
}

Endpoint fresh_endpoint(Transport transport) {
    Endpoint at;
    at.transport = transport;
    if (transport != Transport::uds) {
        at.port = tofu::testing::find_free_tcp_port();
    } else {
        at.path = tofu::testing::temp_uds_path("tofu-bench");
    }
    return at;
}

/// What one trial measured.
struct Sample {
    double seconds = 0;
    double cpu_seconds = 0;
    std::vector<std::uint32_t> rtt_ns;
    std::string security;  ///< Contender::security() of the measuring side
};

double percentile_us(const std::vector<std::uint32_t>& sorted, double q) {
    if (sorted.empty()) {
        return 0;
    }
    const auto i =
        std::min(sorted.size() - 1, static_cast<std::size_t>(q * static_cast<double>(sorted.size())));
    return static_cast<double>(sorted[i]) / 1000.0;
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n == 0 ? 0 : n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/// Both sides on two threads of this process, with one contender object.
Sample trial_in_threads(const std::string& library, Test test, Transport transport, const Workload& work) {
    const std::unique_ptr<Contender> contender = make_contender(library);
    const Endpoint at = fresh_endpoint(transport);
    Stopwatch clock;
    Sample sample;
    std::promise<void> listening;
    std::future<void> listening_future = listening.get_future();
    std::exception_ptr listener_error;
    std::thread listener{[&] {
        bool ready_called = false;
        const Ready ready = [&] {
            ready_called = true;
            listening.set_value();
        };
        try {
            if (test == Test::throughput) {
                contender->sink(at, work, ready, clock);
            } else {
                contender->echo(at, work, ready);
            }
        } catch (...) {
            listener_error = std::current_exception();
            if (!ready_called) {
                listening.set_exception(std::current_exception());
            }
        }
    }};
    std::exception_ptr caller_error;
    try {
        listening_future.get();
        if (test == Test::throughput) {
            contender->source(at, work);
        } else {
            sample.rtt_ns = contender->ping(at, work, clock);
        }
    } catch (...) {
        caller_error = std::current_exception();
    }
    listener.join();
    if (listener_error) {
        std::rethrow_exception(listener_error);
    }
    if (caller_error) {
        std::rethrow_exception(caller_error);
    }
    sample.security = contender->security();
    sample.seconds = clock.seconds();
    sample.cpu_seconds = clock.cpu_seconds();
    return sample;
}

/// The listening side in a child process (`tofu-bench side`), the other side here.
Sample trial_in_processes(const std::string& library, Test test, Transport transport, const Workload& work) {
    const Endpoint at = fresh_endpoint(transport);
    ChildProcess side{{self_path(), "side", "--library", library, "--test", std::string{test_name(test)},
                       "--transport", std::string{transport_name(transport)}, "--port",
                       std::to_string(at.port), "--path", at.path.empty() ? "-" : at.path, "--size",
                       std::to_string(work.size), "--count", std::to_string(work.count), "--warmup",
                       std::to_string(work.warmup)}};
    const auto context = [&] { return library + " " + std::string{test_name(test)} + " side process"; };
    if (side.read_line(side_patience) != "ready") {
        throw std::runtime_error(context() + " did not start (see its error above)");
    }
    const std::unique_ptr<Contender> contender = make_contender(library);
    Sample sample;
    Stopwatch clock;
    if (test == Test::throughput) {
        contender->source(at, work);
        const std::optional<std::string> line = side.read_line(side_patience);
        std::istringstream in{line.value_or("")};
        std::string word;
        if (!(in >> word >> sample.seconds >> sample.cpu_seconds) || word != "result") {
            throw std::runtime_error(context() + " gave no result (see its error above)");
        }
    } else {
        sample.rtt_ns = contender->ping(at, work, clock);
        sample.seconds = clock.seconds();
    }
    if (const int code = side.wait(); code != 0) {
        throw std::runtime_error(context() + " exited with " + std::to_string(code));
    }
    sample.cpu_seconds = -1;  // only the measuring process is seen: not comparable, not reported
    sample.security = contender->security();
    return sample;
}

}  // namespace

std::string_view test_name(Test test) noexcept {
    return test == Test::throughput ? "throughput" : "latency";
}

std::string_view transport_name(Transport transport) noexcept {
    switch (transport) {
        case Transport::uds: return "uds";
        case Transport::tls: return "tls";
        case Transport::tcp: break;
    }
    return "tcp";
}

std::string_view layout_name(Layout layout) noexcept {
    return layout == Layout::threads ? "threads" : "processes";
}

void set_self_path(std::string path) {
    self_path_storage() = std::move(path);
}

const std::string& self_path() {
    return self_path_storage();
}

const std::vector<std::string>& all_libraries() {
#if TOFU_BENCH_ASIO
    static const std::vector<std::string> names{"tofu", "tofu-spin0", "tofu-asio",  "zeromq",
                                                "nng",  "raw",        "tofu-tls1.2"};
#else
    static const std::vector<std::string> names{"tofu", "tofu-spin0", "zeromq", "nng", "raw", "tofu-tls1.2"};
#endif
    return names;
}

std::unique_ptr<Contender> make_contender(const std::string& name) {
    if (name == "tofu") {
        return make_tofu();
    }
    if (name == "tofu-spin0") {
        return make_tofu_spin0();
    }
    if (name == "tofu-tls1.2") {
        return make_tofu_tls12();
    }
#if TOFU_BENCH_ASIO
    if (name == "tofu-asio") {
        return make_tofu_asio();
    }
#endif
    if (name == "zeromq") {
        return make_zeromq();
    }
    if (name == "nng") {
        return make_nng();
    }
    if (name == "raw") {
        return make_raw();
    }
    throw std::runtime_error("unknown library '" + name + "'");
}

CaseResult run_case(const std::string& library, Test test, Transport transport, Workload work, Layout layout,
                    int trials, double target_seconds) {
    const auto trial = [&](const Workload& w) {
        return layout == Layout::threads ? trial_in_threads(library, test, transport, w)
                                         : trial_in_processes(library, test, transport, w);
    };
    // A probe trial (also a warm-up for the machine) tells the library's pace; the measured trials
    // then move as many messages as take about `target_seconds`, at most `work.count`. A target of
    // 0 keeps `work` as it is.
    if (target_seconds > 0) {
        Workload probe = work;
        probe.count = std::min(work.count, probe_messages(test));
        probe.warmup = probe.count / 10;
        const Sample first = trial(probe);
        const double pace = static_cast<double>(probe.count) / std::max(first.seconds, 1e-9);
        work.count = std::clamp(static_cast<std::size_t>(pace * target_seconds),
                                std::min(work.count, min_messages), work.count);
        work.warmup = work.count / 10;
    }

    CaseResult r{.test = test,
                 .transport = transport,
                 .library = library,
                 .work = work,
                 .layout = layout,
                 .trials = trials,
                 .security = {}};
    std::vector<double> rate;
    std::vector<double> cpu;
    std::vector<double> p50;
    std::vector<double> p99;
    std::vector<double> p999;
    std::string last_security;
    for (int t = 0; t < trials; ++t) {
        Sample s = trial(work);
        last_security = s.security;
        const auto messages = static_cast<double>(work.count);
        if (test == Test::throughput) {
            rate.push_back(messages / std::max(s.seconds, 1e-9));
        } else {
            std::sort(s.rtt_ns.begin(), s.rtt_ns.end());
            p50.push_back(percentile_us(s.rtt_ns, 0.50));
            p99.push_back(percentile_us(s.rtt_ns, 0.99));
            p999.push_back(percentile_us(s.rtt_ns, 0.999));
        }
        if (s.cpu_seconds >= 0) {
            cpu.push_back(s.cpu_seconds / messages * 1e6);
        }
    }
    r.msgs_per_s = median(rate);
    r.mb_per_s = r.msgs_per_s * static_cast<double>(work.size) / 1e6;
    r.cpu_per_m = cpu.empty() ? -1 : median(cpu);
    r.p50_us = median(p50);
    r.p99_us = median(p99);
    r.p999_us = median(p999);
    r.security = last_security;
    return r;
}

HandshakeResult run_handshakes(const std::string& library, double target_seconds, int trials) {
    const auto trial = [&](std::size_t count) {
        const std::unique_ptr<Contender> contender = make_contender(library);
        const Endpoint at = fresh_endpoint(Transport::tls);
        std::atomic<bool> stop{false};
        std::promise<void> listening;
        std::future<void> listening_future = listening.get_future();
        std::exception_ptr server_error;
        std::thread server{[&] {
            bool ready_called = false;
            try {
                contender->greet(
                    at,
                    [&] {
                        ready_called = true;
                        listening.set_value();
                    },
                    stop);
            } catch (...) {
                server_error = std::current_exception();
                if (!ready_called) {
                    listening.set_exception(std::current_exception());
                }
            }
        }};
        std::exception_ptr client_error;
        double seconds = 0;
        try {
            listening_future.get();
            contender->greet_many(at, 1);  // not measured: first use of the keys, the caches
            const auto begin = std::chrono::steady_clock::now();
            contender->greet_many(at, count);
            seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
        } catch (...) {
            client_error = std::current_exception();
        }
        stop = true;
        server.join();
        if (server_error) {
            std::rethrow_exception(server_error);
        }
        if (client_error) {
            std::rethrow_exception(client_error);
        }
        return std::pair{static_cast<double>(count) / std::max(seconds, 1e-9), contender->security()};
    };
    // A probe of 20 sets the pace, then each trial lasts about `target_seconds`.
    const double pace = trial(20).first;
    const auto count = std::clamp<std::size_t>(static_cast<std::size_t>(pace * target_seconds), 20, 100'000);
    HandshakeResult r{.library = library, .count = count, .trials = trials, .per_second = 0, .security = {}};
    std::vector<double> rates;
    for (int t = 0; t < trials; ++t) {
        auto [rate, security] = trial(count);
        rates.push_back(rate);
        r.security = std::move(security);
    }
    r.per_second = median(rates);
    return r;
}

void run_side(const std::string& library, Test test, const Endpoint& at, const Workload& work) {
    const std::unique_ptr<Contender> contender = make_contender(library);
    const Ready ready = [] {
        std::printf("ready\n");
        std::fflush(stdout);
    };
    if (test == Test::throughput) {
        Stopwatch clock;
        contender->sink(at, work, ready, clock);
        std::printf("result %.9f %.9f\n", clock.seconds(), clock.cpu_seconds());
    } else {
        contender->echo(at, work, ready);
    }
    std::fflush(stdout);
}

}  // namespace tofu::bench

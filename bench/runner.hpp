// Runs one benchmark case, the two sides on two threads or in two processes, over repeated trials.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "contender.hpp"

namespace tofu::bench {

enum class Test : std::uint8_t { throughput, latency };
enum class Layout : std::uint8_t { threads, processes };

[[nodiscard]] std::string_view test_name(Test test) noexcept;
[[nodiscard]] std::string_view transport_name(Transport transport) noexcept;
[[nodiscard]] std::string_view layout_name(Layout layout) noexcept;

/// One row of the results: what ran, and the median of its trials.
struct CaseResult {
    Test test = Test::throughput;
    Transport transport = Transport::tcp;
    std::string library;
    Workload work;
    Layout layout = Layout::threads;
    int trials = 0;

    double msgs_per_s = 0;  ///< throughput: measured messages per second
    double mb_per_s = 0;    ///< throughput: payload megabytes (10^6) per second
    double cpu_per_m = -1;  ///< CPU seconds per million messages (whole process); -1 in two processes
    double p50_us = 0;      ///< latency: round-trip percentiles, microseconds
    double p99_us = 0;
    double p999_us = 0;
    std::string security;  ///< over tls: what protected the connection (Contender::security)
};

/// Handshakes per second over `tls`: connections made one after the other, each with its first
/// round trip, then closed.
struct HandshakeResult {
    std::string library;
    std::size_t count = 0;  ///< handshakes per trial
    int trials = 0;
    double per_second = 0;  ///< the median of the trials
    std::string security;
};

/// Where the benchmark binary is, so a side can run in a process of its own.
void set_self_path(std::string path);
[[nodiscard]] const std::string& self_path();

/// Runs `trials` trials of `test` for `library` and returns the medians. A probe trial first sets
/// the library's pace, so each measured trial moves as many messages as take about
/// `target_seconds`, between 1000 and `work.count`. Throws on any failure.
[[nodiscard]] CaseResult run_case(const std::string& library, Test test, Transport transport, Workload work,
                                  Layout layout, int trials, double target_seconds);

/// Runs `trials` trials of the handshake test for `library`, each about `target_seconds` long (after
/// a probe), both ends on two threads of this process. Throws on any failure.
[[nodiscard]] HandshakeResult run_handshakes(const std::string& library, double target_seconds, int trials);

/// The body of a side process (`tofu-bench side ...`): runs the listening side of `test`, prints
/// "ready" once it listens and, for throughput, "result <seconds> <cpu seconds>" at the end.
void run_side(const std::string& library, Test test, const Endpoint& at, const Workload& work);

/// The contender called `name`; throws for an unknown one.
[[nodiscard]] std::unique_ptr<Contender> make_contender(const std::string& name);

/// Every library the benchmark knows, tofu first.
[[nodiscard]] const std::vector<std::string>& all_libraries();

}  // namespace tofu::bench

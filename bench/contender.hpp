// What every library in the benchmark implements: the two sides of one-way throughput and the two
// sides of a ping-pong. The harness (main.cpp) runs the sides on two threads of one process or in
// two processes, and does all timing of the whole run; each side only moves messages.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tofu::bench {

/// `tls` is TCP with each library's own protection: TLS for tofu and NNG, CURVE for ZeroMQ.
enum class Transport : std::uint8_t { tcp, uds, tls };

/// Where a receiver listens and a sender connects. Fresh for every run (new port, new path).
struct Endpoint {
    Transport transport = Transport::tcp;
    std::string host = "127.0.0.1";  ///< TCP and TLS only
    std::uint16_t port = 0;          ///< TCP and TLS only: a free port chosen by the harness
    std::string path;                ///< UDS only: a filesystem path that does not exist yet
};

/// One run's work: `warmup` messages not measured, then `count` measured ones, all `size` bytes.
struct Workload {
    std::size_t size = 64;
    std::size_t count = 0;
    std::size_t warmup = 0;
};

/// Called by a receiving/answering side once it listens, so the other side may connect.
using Ready = std::function<void()>;

/// Marks the measured part of a side's run. A side calls `start()` when warm-up is over and
/// `stop()` after its last measured message; the harness reads wall and CPU time from it.
class Stopwatch {
public:
    void start() noexcept;
    void stop() noexcept;
    [[nodiscard]] double seconds() const noexcept;
    /// CPU time of the whole process (every thread, the library's own threads too) in the window.
    [[nodiscard]] double cpu_seconds() const noexcept;

private:
    std::chrono::steady_clock::time_point wall_start_, wall_stop_;
    double cpu_start_ = 0;
    double cpu_stop_ = 0;
};

/// Throws `std::runtime_error("<who>: <what>")`: how every side reports a failure.
[[noreturn]] inline void fail(std::string_view who, const std::string& what) {
    throw std::runtime_error(std::string{who} + ": " + what);
}

/// A messaging library under test. One object per process; its sides may run on two threads at
/// once. Every method throws `std::runtime_error` (with what failed) on any error, and checks the
/// size of what it receives.
class Contender {
public:
    Contender() = default;
    Contender(const Contender&) = delete;
    Contender& operator=(const Contender&) = delete;
    Contender(Contender&&) = delete;
    Contender& operator=(Contender&&) = delete;
    virtual ~Contender() = default;

    /// "tofu", "tofu-spin0", "tofu-asio", "zeromq", "nng", "raw".
    [[nodiscard]] virtual std::string_view name() const = 0;

    /// Throughput receiver: listens at `at`, calls `ready()`, receives `warmup + count` messages of
    /// `size` bytes, timing the last `count` with `clock`.
    virtual void sink(const Endpoint& at, const Workload& work, const Ready& ready, Stopwatch& clock) = 0;

    /// Throughput sender: connects to `at` and sends `warmup + count` messages of `size` bytes as
    /// fast as the library allows. Returns when all are handed over (and the connection is done).
    virtual void source(const Endpoint& at, const Workload& work) = 0;

    /// Ping-pong server: listens at `at`, calls `ready()`, answers `warmup + count` requests with a
    /// message of the same size, then returns.
    virtual void echo(const Endpoint& at, const Workload& work, const Ready& ready) = 0;

    /// Ping-pong client: connects to `at`, makes `warmup` round trips, then `count` measured ones,
    /// one at a time. Returns the measured round-trip times, in nanoseconds, and times them as a
    /// whole with `clock`.
    [[nodiscard]] virtual std::vector<std::uint32_t> ping(const Endpoint& at, const Workload& work,
                                                          Stopwatch& clock) = 0;

    /// Handshake server: listens at `at`, calls `ready()`, then accepts connections and answers
    /// each one's first message, until `stop` is set.
    virtual void greet(const Endpoint& at, const Ready& ready, const std::atomic<bool>& stop) {
        (void)at;
        (void)ready;
        (void)stop;
        fail(name(), "no handshake test");
    }

    /// Handshake client: `count` times, one after the other, connects to `at`, makes the first
    /// round trip (tofu: HelloRequest/HelloResponse) and closes.
    virtual void greet_many(const Endpoint& at, std::size_t count) {
        (void)at;
        (void)count;
        fail(name(), "no handshake test");
    }

    /// Over `tls`: what protected the last connection, as agreed on it where the library says
    /// (tofu: its `~tls` header, e.g. "TLSv1.3 TLS_AES_128_GCM_SHA256"). Empty otherwise.
    [[nodiscard]] virtual std::string security() const { return {}; }
};

/// A round trip's time in nanoseconds, clamped to what the 32-bit samples hold.
inline std::uint32_t saturated_nanoseconds(std::chrono::steady_clock::duration elapsed) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count();
    return static_cast<std::uint32_t>(
        std::clamp<std::int64_t>(ns, 0, std::numeric_limits<std::uint32_t>::max()));
}

/// The contenders, each made fresh (per process).
[[nodiscard]] std::unique_ptr<Contender> make_tofu();
/// tofu receiving with `wait_receive` and `receive_spin` zero: the Asio receiver's baseline.
[[nodiscard]] std::unique_ptr<Contender> make_tofu_spin0();
/// tofu with TLS 1.2 as the most it offers (for the row beside NNG, whose TLS is 1.2 only).
[[nodiscard]] std::unique_ptr<Contender> make_tofu_tls12();
/// tofu with every message taken through `tofu::asio::receiver` (built where Asio is found).
[[nodiscard]] std::unique_ptr<Contender> make_tofu_asio();
[[nodiscard]] std::unique_ptr<Contender> make_zeromq();
[[nodiscard]] std::unique_ptr<Contender> make_nng();
[[nodiscard]] std::unique_ptr<Contender> make_raw();

}  // namespace tofu::bench

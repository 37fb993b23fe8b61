// A fault-injecting proxy between two peers on loopback: it accepts connections (TCP on 127.0.0.1,
// or a Unix domain socket), opens one upstream connection for each, and copies bytes both ways,
// doing one kind of harm to the client-to-server direction. Real sockets, real kernels: what the
// engine on either side sees is what a bad network would show it. It follows the frames going by
// (not their content): how many whole frames reached the server, and how many the server's engine
// confirmed receiving.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string_view>
#include <thread>

#include <tofu/address.hpp>

#include "support/engine_helpers.hpp"

namespace tofu::test {

/// What the proxy does to the bytes going from the client to the server.
struct ChaosFault {
    enum class Kind : std::uint8_t {
        none,        ///< copy faithfully
        fragment,    ///< forward one byte per write
        delay,       ///< wait `pause` before forwarding each chunk read
        stall,       ///< after `after_bytes`, stop reading the client for `pause`, then go on
        reset,       ///< after exactly `after_bytes`, once the server's engine confirmed every whole
                     ///< frame it got, reset both connections (UDS: close them)
        half_close,  ///< after exactly `after_bytes`, end the stream towards the server (FIN), then
                     ///< read what the client still sends, forwarding none
    };
    Kind kind = Kind::none;
    std::size_t after_bytes = 0;
    std::chrono::milliseconds pause{0};
};

/// "fragment", "reset"...: usable in test names.
[[nodiscard]] std::string_view fault_name(ChaosFault::Kind kind) noexcept;

class ChaosProxy {
public:
    /// Listens on a fresh address of `transport` and forwards every connection to `upstream`.
    ChaosProxy(Transport transport, Address upstream, ChaosFault fault);
    ChaosProxy(const ChaosProxy&) = delete;
    ChaosProxy& operator=(const ChaosProxy&) = delete;
    ChaosProxy(ChaosProxy&&) = delete;
    ChaosProxy& operator=(ChaosProxy&&) = delete;
    /// Stops accepting, cuts every connection still open and joins every thread.
    ~ChaosProxy();

    /// Where a client connects to go through the proxy.
    [[nodiscard]] const Address& client_address() const noexcept { return client_address_; }

    /// Whole frames forwarded from clients to the server so far, confirmations aside (counted as
    /// each write starts). Not over TLS (`tls4`), whose records hide the frames: always 0 there,
    /// and a reset does not wait for the server's confirmations either.
    [[nodiscard]] std::uint64_t frames_forwarded() const noexcept { return frames_forwarded_.load(); }

private:
    struct Pair;
    void accept_loop();
    void pump(Pair& pair, bool client_to_server);
    /// Reads `from` until its end, dropping what it reads.
    static void swallow(Pair& pair, int from);
    /// Waits (within event_timeout) until the server confirmed every whole frame it was given.
    void wait_server_confirmed_all();

    Transport transport_;
    Address upstream_;
    ChaosFault fault_;
    Address client_address_;  ///< before listen_fd_: listening fills it in
    int listen_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> frames_forwarded_{0};
    std::mutex confirmed_mutex_;
    std::condition_variable confirmed_changed_;
    std::uint64_t confirmed_by_server_ = 0;  ///< guarded by confirmed_mutex_
    std::mutex mutex_;
    std::list<Pair> pairs_;  ///< guarded by mutex_; stable addresses for the pump threads
    std::thread acceptor_;
};

}  // namespace tofu::test

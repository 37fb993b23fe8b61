// A fault-injecting proxy between two peers on loopback: it accepts connections (TCP on 127.0.0.1,
// or a Unix domain socket), opens one upstream connection for each, and copies bytes both ways,
// doing one kind of harm to the client-to-server direction. Real sockets, real kernels: what the
// engine on either side sees is what a bad network would show it.
#pragma once

#include <atomic>
#include <chrono>
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
        reset,       ///< after exactly `after_bytes`, once the server acknowledged them, reset both
                     ///< connections (UDS: close them)
        half_close,  ///< after exactly `after_bytes`, end the stream towards the server (FIN), then
                     ///< read and count (`swallowed`) what the client still sends, forwarding none
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

    /// Bytes forwarded from clients to the server so far (counted as each write starts).
    [[nodiscard]] std::size_t forwarded() const noexcept { return forwarded_.load(); }
    /// Bytes a half-close fault read from clients after the cut and dropped.
    [[nodiscard]] std::size_t swallowed() const noexcept { return swallowed_.load(); }
    /// True when a reset struck without the OS confirming that the server had every forwarded byte
    /// (Wine cannot tell): bytes still queued in the proxy may have died with the connection.
    [[nodiscard]] bool reset_unconfirmed() const noexcept { return reset_unconfirmed_.load(); }

private:
    struct Pair;
    void accept_loop();
    void pump(Pair& pair, bool client_to_server);
    /// Reads `from` until its end, counting what it drops into `swallowed_`.
    void swallow(Pair& pair, int from);

    Address upstream_;
    ChaosFault fault_;
    Address client_address_;  ///< before listen_fd_: listening fills it in
    int listen_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::atomic<std::size_t> forwarded_{0};
    std::atomic<std::size_t> swallowed_{0};
    std::atomic<bool> reset_unconfirmed_{false};
    std::mutex mutex_;
    std::list<Pair> pairs_;  ///< guarded by mutex_; stable addresses for the pump threads
    std::thread acceptor_;
};

}  // namespace tofu::test

#include "support/chaos_proxy.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "net/native_socket.hpp"

#if defined(_WIN32)
#include <mstcpip.h>
#else
#include <sys/ioctl.h>
#if defined(__linux__)
#include <linux/sockios.h>
#endif
#endif

namespace tofu::test {

namespace native = detail::native;

/// One proxied connection: the client's socket, the upstream socket, a pump thread per direction.
struct ChaosProxy::Pair {
    int client_fd = -1;
    int server_fd = -1;
    std::atomic<bool> reset{false};  ///< cut abortively: both sockets close with SO_LINGER 0
    std::atomic<int> pumps_left{2};
    std::mutex fds_mutex;  ///< wake and close never race: a closed number may belong to someone else
    std::thread to_server;
    std::thread to_client;

    /// Wakes both pumps (their blocked reads return) without sending anything.
    void wake_both() {
        const std::lock_guard lock{fds_mutex};
        if (client_fd >= 0) {
            ::shutdown(native::handle(client_fd), native::shut_read);
            ::shutdown(native::handle(server_fd), native::shut_read);
        }
    }

    /// Closes both sockets (the last pump does this): abortively after a reset.
    void close_both() {
        const std::lock_guard lock{fds_mutex};
        if (reset.load()) {
            const linger abortive{1, 0};
            (void)native::set_option(client_fd, SOL_SOCKET, SO_LINGER, abortive);
            (void)native::set_option(server_fd, SOL_SOCKET, SO_LINGER, abortive);
        }
        native::close_socket(std::exchange(client_fd, -1));
        native::close_socket(std::exchange(server_fd, -1));
    }
};

namespace {

using Kind = ChaosFault::Kind;

/// A blocking read that ended without data or end of stream: a signal, or the receive timeout.
bool read_interrupted(int error) {
#if defined(_WIN32)
    return error == WSAETIMEDOUT || native::would_block(error);
#else
    return native::would_block(error);
#endif
}

/// Writes all of `bytes` to `fd`, one byte per write when `bytewise`. False when the socket broke.
bool write_all(int fd, std::span<const std::byte> bytes, bool bytewise) {
    while (!bytes.empty()) {
        const std::size_t chunk = bytewise ? 1 : bytes.size();
        const long n = native::send_bytes(fd, bytes.data(), chunk);
        if (n < 0 && native::last_error() == native::err::interrupted) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

/// Whether the peer of `fd` has acknowledged all `written` bytes sent on it (they are in its
/// kernel, readable even after a reset); nullopt where the OS cannot tell.
std::optional<bool> acknowledged(int fd, std::size_t written) {
#if defined(__linux__)
    (void)written;
    int unacknowledged = 0;  // sent and not acknowledged, or not sent yet
    if (::ioctl(fd, SIOCOUTQ, &unacknowledged) == 0) {
        return unacknowledged == 0;
    }
#elif defined(__APPLE__)
    (void)written;
    int unsent = 0;
    socklen_t size = sizeof unsent;
    if (::getsockopt(fd, SOL_SOCKET, SO_NWRITE, &unsent, &size) == 0) {
        return unsent == 0;
    }
#elif defined(FIONWRITE)
    (void)written;
    int unsent = 0;
    if (::ioctl(fd, FIONWRITE, &unsent) == 0) {
        return unsent == 0;
    }
#elif defined(_WIN32)
    DWORD version = 0;
    TCP_INFO_v0 info{};
    DWORD size = 0;
    if (::WSAIoctl(native::handle(fd), SIO_TCP_INFO, &version, sizeof version, &info, sizeof info, &size,
                   nullptr, nullptr) == 0) {
        return info.BytesInFlight == 0 && info.BytesOut >= written;
    }
#endif
    return std::nullopt;
}

/// Waits, within `event_timeout`, until the peer of `fd` has all `written` bytes: an abortive
/// close discards what is still in the sender's queue, and the fault must cut at the byte it names.
/// False when the OS cannot tell (Wine refuses SIO_TCP_INFO).
bool wait_acknowledged(int fd, std::size_t written) {
    const auto deadline = std::chrono::steady_clock::now() + event_timeout;
    for (;;) {
        const std::optional<bool> done = acknowledged(fd, written);
        if (!done) {
            return false;
        }
        if (*done || std::chrono::steady_clock::now() > deadline) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
}

/// A listening socket on a fresh address of `transport`, and the client address that reaches it.
int listen_on(Transport transport, Address& client_address) {
    if (transport == Transport::tcp4) {
        native::start_sockets();
        const auto fd = static_cast<int>(::socket(AF_INET, SOCK_STREAM, 0));
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        native::socklen len = sizeof addr;
        if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0 ||
            ::listen(fd, 64) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            throw TestFailure{"chaos proxy: cannot listen on TCP loopback"};
        }
        client_address = TcpClientAddress{"127.0.0.1", ntohs(addr.sin_port)};
        return fd;
    }
    if (transport == Transport::uds_path) {
        const std::string path = temp_socket_path();
        const auto fd = static_cast<int>(::socket(AF_UNIX, SOCK_STREAM, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(static_cast<char*>(addr.sun_path), path.c_str(), path.size() + 1);
        if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(fd, 64) != 0) {
            throw TestFailure{"chaos proxy: cannot listen on " + path};
        }
        client_address = UdsClientAddress{path};
        return fd;
    }
    throw TestFailure{"chaos proxy: listens on tcp4 or uds_path only"};
}

}  // namespace

std::string_view fault_name(ChaosFault::Kind kind) noexcept {
    switch (kind) {
        case Kind::none: return "none";
        case Kind::fragment: return "fragment";
        case Kind::delay: return "delay";
        case Kind::stall: return "stall";
        case Kind::reset: return "reset";
        case Kind::half_close: return "half_close";
    }
    return "?";
}

ChaosProxy::ChaosProxy(Transport transport, Address upstream, ChaosFault fault)
    : upstream_{std::move(upstream)}, fault_{fault}, listen_fd_{listen_on(transport, client_address_)} {
    acceptor_ = std::thread{[this] { accept_loop(); }};
}

ChaosProxy::~ChaosProxy() {
    stopping_.store(true);
    ::shutdown(native::handle(listen_fd_), native::shut_both);  // wakes the blocked accept (POSIX)
#if defined(_WIN32)
    native::close_socket(listen_fd_);  // Winsock: closing it is what wakes the accept
    acceptor_.join();
#else
    acceptor_.join();
    native::close_socket(listen_fd_);
#endif
    const std::lock_guard lock{mutex_};
    for (Pair& pair : pairs_) {
        pair.reset.store(true);
        pair.wake_both();
    }
    for (Pair& pair : pairs_) {
        pair.to_server.join();
        pair.to_client.join();
    }
}

void ChaosProxy::accept_loop() {
    while (!stopping_.load()) {
        const auto client = static_cast<int>(::accept(native::handle(listen_fd_), nullptr, nullptr));
        if (client < 0) {
            const int error = native::last_error();
            if (!stopping_.load() &&
                (error == native::err::interrupted || error == native::err::connection_aborted)) {
                continue;
            }
            return;  // shut down
        }
        int server = -1;
        try {
            server = connect_raw(upstream_, event_timeout);
        } catch (const TestFailure&) {
            native::close_socket(client);  // the upstream refused: so does the proxy
            continue;
        }
#if defined(_WIN32)
        // Winsock's shutdown does not wake a blocked recv (wake_both): the pumps' reads time out
        // every 50 ms instead, and each timeout looks at the pair's flags.
        const DWORD poll_ms = 50;
        (void)native::set_option(client, SOL_SOCKET, SO_RCVTIMEO, poll_ms);
        (void)native::set_option(server, SOL_SOCKET, SO_RCVTIMEO, poll_ms);
#endif
        const std::lock_guard lock{mutex_};
        Pair& pair = pairs_.emplace_back();
        pair.client_fd = client;
        pair.server_fd = server;
        pair.to_server = std::thread{[this, &pair] { pump(pair, true); }};
        pair.to_client = std::thread{[this, &pair] { pump(pair, false); }};
    }
}

void ChaosProxy::swallow(Pair& pair, int from) {
    std::array<std::byte, 16384> buffer{};
    for (;;) {
        const long n = native::recv_bytes(from, buffer.data(), buffer.size());
        if (n > 0) {
            swallowed_ += static_cast<std::size_t>(n);
        } else if (n == 0 || pair.reset.load() || !read_interrupted(native::last_error())) {
            return;  // the client closed its end (or reset it), or the proxy is going away
        }
    }
}

void ChaosProxy::pump(Pair& pair, bool client_to_server) {
    // Read once: the fds stay open until both pumps are done.
    const int from = client_to_server ? pair.client_fd : pair.server_fd;
    const int to = client_to_server ? pair.server_fd : pair.client_fd;
    const ChaosFault fault = client_to_server ? fault_ : ChaosFault{};
    std::array<std::byte, 16384> buffer{};
    std::size_t total = 0;
    bool stalled = false;
    for (;;) {
        // Near a fault's point, read only up to it, so the fault strikes at exactly that byte.
        std::size_t want = buffer.size();
        const bool cuts = fault.kind == Kind::reset || fault.kind == Kind::half_close;
        if ((cuts || (fault.kind == Kind::stall && !stalled)) && total < fault.after_bytes) {
            want = std::min(want, fault.after_bytes - total);
        }
        if (cuts && total == fault.after_bytes) {
            if (fault.kind == Kind::reset) {
                if (!wait_acknowledged(to, total)) {
                    reset_unconfirmed_.store(true);
                }
                pair.reset.store(true);
                pair.wake_both();
            } else {
                ::shutdown(native::handle(to),
                           native::shut_write);  // the server reads the end of the stream here
                swallow(pair, from);
            }
            break;
        }
        if (fault.kind == Kind::stall && !stalled && total >= fault.after_bytes) {
            stalled = true;
            std::this_thread::sleep_for(fault.pause);  // the fault itself: the proxy stops reading
        }
        const long n = native::recv_bytes(from, buffer.data(), want);
        if (n < 0 && read_interrupted(native::last_error()) && !pair.reset.load()) {
            continue;  // a receive timeout: keep waiting for the peer
        }
        if (n <= 0 || pair.reset.load()) {
            if (pair.reset.load()) {
                pair.wake_both();
            } else {
                // Pass the end of the stream (or its failure) on, and nothing more: the other pump
                // must still read what its peer sent (a half-close fault counts it to the byte).
                ::shutdown(native::handle(to), native::shut_write);
            }
            break;
        }
        if (fault.kind == Kind::delay) {
            std::this_thread::sleep_for(fault.pause);  // the fault itself: a slow link
        }
        const auto bytes = std::span{buffer}.first(static_cast<std::size_t>(n));
        if (client_to_server) {
            forwarded_ += bytes.size();  // before the write: counted by the time the peer can answer
        }
        if (!write_all(to, bytes, fault.kind == Kind::fragment)) {
            break;  // `to` broke: the other pump, reading from it, sees that and passes it on
        }
        total += bytes.size();
    }
    if (pair.pumps_left.fetch_sub(1) == 1) {
        pair.close_both();
    }
}

}  // namespace tofu::test

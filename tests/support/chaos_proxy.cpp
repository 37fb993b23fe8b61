#include "support/chaos_proxy.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "message/frame_codec.hpp"
#include "net/native_socket.hpp"

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

/// Follows the frames of one direction of a stream as its bytes go by, whatever the pieces: counts
/// the whole frames and reports each confirmation's count.
class FrameFollower {
public:
    /// Takes the next bytes; `on_confirmation(count)` for each confirmation they complete.
    template <class OnConfirmation>
    void feed(std::span<const std::byte> bytes, OnConfirmation&& on_confirmation) {
        while (!bytes.empty()) {
            if (header_have_ < header_.size()) {
                const std::size_t n = std::min(bytes.size(), header_.size() - header_have_);
                std::memcpy(header_.data() + header_have_, bytes.data(), n);
                header_have_ += n;
                bytes = bytes.subspan(n);
                if (header_have_ == header_.size()) {
                    const BinaryHeader h = BinaryHeader::decode(header_);
                    confirmation_ = h.proto.op_code == detail::confirmation_op;
                    count_ = h.message_id;
                    rest_ = std::size_t{h.text_headers_len} + h.body_len;
                }
            } else {
                const std::size_t n = std::min(bytes.size(), rest_);
                rest_ -= n;
                bytes = bytes.subspan(n);
            }
            if (header_have_ == header_.size() && rest_ == 0) {
                if (confirmation_) {
                    on_confirmation(count_);
                } else {
                    ++frames_;
                }
                header_have_ = 0;
            }
        }
    }

    /// Whole frames so far, confirmations aside.
    [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }

private:
    std::array<std::byte, BinaryHeader::wire_size> header_{};
    std::size_t header_have_ = 0;
    std::size_t rest_ = 0;
    bool confirmation_ = false;
    std::uint64_t count_ = 0;
    std::uint64_t frames_ = 0;
};

/// A listening socket on a fresh address of `transport`, and the client address that reaches it.
int listen_on(Transport transport, Address& client_address) {
    if (transport == Transport::tcp4 || transport == Transport::tls4) {
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
        if (transport == Transport::tls4) {
            client_address = TlsClientAddress{"127.0.0.1", ntohs(addr.sin_port)};
        } else {
            client_address = TcpClientAddress{"127.0.0.1", ntohs(addr.sin_port)};
        }
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
    throw TestFailure{"chaos proxy: listens on tcp4, tls4 or uds_path only"};
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
    : transport_{transport},
      upstream_{std::move(upstream)},
      fault_{fault},
      listen_fd_{listen_on(transport, client_address_)} {
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
        if (transport_ == Transport::tcp4 || transport_ == Transport::tls4) {
            // No Nagle: a small frame (a confirmation) goes out at once, so a reset right after
            // it cannot destroy it in the proxy's send queue.
            const int one = 1;
            (void)native::set_option(client, IPPROTO_TCP, TCP_NODELAY, one);
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
        if (n <= 0 && (n == 0 || pair.reset.load() || !read_interrupted(native::last_error()))) {
            return;  // the client closed its end (or reset it), or the proxy is going away
        }
    }
}

void ChaosProxy::wait_server_confirmed_all() {
    // An abortive close destroys what is still queued in the proxy and the kernels; once the server
    // confirmed every whole frame, they are with its application, whatever the reset destroys.
    std::unique_lock lock{confirmed_mutex_};
    (void)confirmed_changed_.wait_for(lock, event_timeout,
                                      [this] { return confirmed_by_server_ >= frames_forwarded_.load(); });
}

void ChaosProxy::pump(Pair& pair, bool client_to_server) {
    // Read once: the fds stay open until both pumps are done.
    const int from = client_to_server ? pair.client_fd : pair.server_fd;
    const int to = client_to_server ? pair.server_fd : pair.client_fd;
    const ChaosFault fault = client_to_server ? fault_ : ChaosFault{};
    std::array<std::byte, 16384> buffer{};
    FrameFollower frames;
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
                if (transport_ != Transport::tls4) {
                    wait_server_confirmed_all();  // over TLS the proxy cannot read the confirmations
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
        if (client_to_server && transport_ != Transport::tls4) {  // TLS records hide the frames
            // Counted before the write: by the time the server can answer, its frames are counted.
            frames.feed(bytes, [](std::uint64_t) {});
            frames_forwarded_.store(frames.frames());
        }
        if (!write_all(to, bytes, fault.kind == Kind::fragment)) {
            break;  // `to` broke: the other pump, reading from it, sees that and passes it on
        }
        if (!client_to_server && transport_ != Transport::tls4) {
            // Seen after the write: a reset waiting for this confirmation cannot overtake it.
            frames.feed(bytes, [this](std::uint64_t count) {
                const std::lock_guard lock{confirmed_mutex_};
                confirmed_by_server_ = std::max(confirmed_by_server_, count);
                confirmed_changed_.notify_all();
            });
        }
        total += bytes.size();
    }
    if (pair.pumps_left.fetch_sub(1) == 1) {
        pair.close_both();
    }
}

}  // namespace tofu::test

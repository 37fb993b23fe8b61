// Sockets as the engine uses them: non-blocking, not inherited by child processes, closed
// abortively (SO_LINGER 0), TCP_NODELAY on TCP. Every failure is a status plus the OS error, never
// an exception. POSIX and Winsock alike (net/native_socket.hpp and net/socket_os.hpp hold the
// differences).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include <tofu/address.hpp>
#include <tofu/status.hpp>

#include "net/native_socket.hpp"

namespace tofu::detail {

/// An owned socket descriptor.
class Socket {
public:
    Socket() = default;
    explicit Socket(int fd) noexcept : fd_{fd} {}
    Socket(Socket&& o) noexcept : fd_{std::exchange(o.fd_, -1)} {}
    Socket& operator=(Socket&& o) noexcept {
        if (this != &o) {
            close();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    ~Socket() { close(); }

    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    void close() noexcept;

private:
    int fd_ = -1;
};

/// A resolved socket address.
struct SocketAddress {
    sockaddr_storage storage{};
    native::socklen length = 0;

    [[nodiscard]] int family() const noexcept { return storage.ss_family; }
    [[nodiscard]] const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
};

/// A status with the OS error behind it (0 when there is none).
struct SocketError {
    AmpeStatus status = AmpeStatus::success;
    int os_error = 0;

    [[nodiscard]] bool ok() const noexcept { return status == AmpeStatus::success; }
};

/// Resolves a parsed address: numeric hosts directly, host names through the resolver (as
/// `look_up`, on the calling thread).
SocketError resolve(const Address& address, SocketAddress& out);

/// True when `host` is an IPv4 or IPv6 literal (no lookup, no TLS server name).
[[nodiscard]] bool is_ip_literal(const std::string& host) noexcept;

/// A host name to look up, and the port to go with it.
struct HostName {
    std::string host;
    std::uint16_t port = 0;
};

/// The host name a TCP address (client or server) names, when it is not an IPv4 or IPv6 literal:
/// only then does resolving it ask the resolver. Nothing for a literal or a UDS address.
[[nodiscard]] std::optional<HostName> host_name_of(const Address& address);

/// The status of a lookup that may succeed when tried again (the resolver could not answer now,
/// EAI_AGAIN): the connect or the listen failed, the address did not.
[[nodiscard]] constexpr AmpeStatus try_later_status(bool passive) noexcept {
    return passive ? AmpeStatus::listen_failed : AmpeStatus::connect_failed;
}

/// What a host name's lookup found: an address, or a status and the resolver's words.
struct LookupResult {
    /// `invalid_address` when the name is no good (no such name, no address for it...),
    /// `try_later_status` when the resolver could not answer now (EAI_AGAIN): later it may.
    SocketError error;
    SocketAddress address;  ///< the first address found, with the port
    std::string detail;     ///< on failure: the name and the resolver's words (gai_strerror)
};

/// Looks `host` up (getaddrinfo); `passive` for an address to listen on. It blocks for as long as the
/// resolver takes: the engine calls it on a lookup thread (engine/resolver.hpp). Thread-safe.
[[nodiscard]] LookupResult look_up(const std::string& host, std::uint16_t port, bool passive);

/// What the engine's options ask of the sockets it makes.
struct SocketSettings {
    /// TCP: keepalive probes and TCP_USER_TIMEOUT so a silent peer is given up on within about
    /// this time; 0 leaves the OS defaults.
    std::chrono::milliseconds dead_peer_timeout{0};
    /// Permission bits of a filesystem UDS listener's socket file.
    std::uint32_t uds_file_mode = 0600;
};

/// A bound, listening socket. UDS: a stale socket file (nobody accepts on it) is removed first;
/// a live one makes this fail with `listen_failed`, and so does a file that is not a socket. The
/// socket file gets `settings.uds_file_mode` before anyone can connect.
SocketError open_listener(const SocketAddress& where, const SocketSettings& settings, Socket& out);

/// Starts a non-blocking connect. `in_progress` tells whether completion must be awaited.
SocketError start_connect(const SocketAddress& where, const SocketSettings& settings, Socket& out,
                          bool& in_progress);

/// A socket ready to connect to `where` (the connect itself is left to the caller: a
/// completion-based backend submits it).
SocketError open_connecting(const SocketAddress& where, const SocketSettings& settings, Socket& out);

/// The status of a connect that failed with `os_error` (a missing UDS path has its own).
SocketError connect_failure(int os_error) noexcept;

/// The outcome of a connect that was in progress.
SocketError finish_connect(const Socket& s);

/// Accepts one connection; an invalid socket with success status means "none pending". A failure
/// leaves the pending connection (if any) in the backlog: running out of descriptors, say.
SocketError accept_one(const Socket& listener, const SocketSettings& settings, Socket& out);

/// Applies the engine's settings to a socket accepted by other means (a completion-based backend
/// accepts in the kernel): SO_LINGER 0, TCP_NODELAY, the dead-peer timeout.
SocketError tune_accepted(const Socket& s, const SocketSettings& settings);

/// Who is at the other end, as the OS tells it: `tcp|IP|PORT`, or `uds|uid=U|gid=G|pid=P` from
/// the socket's credentials (without `pid` where the OS does not give it; just `uds` on Windows,
/// which gives none). Empty when unknown.
std::string describe_peer(const Socket& s);

/// The address a socket is bound to, as a server address (TCP: IP and port; UDS: path).
Address bound_address(const Socket& s, const Address& requested);

/// Result of one read or write: bytes moved, or 0 with `would_block`, or an error.
struct IoResult {
    std::size_t bytes = 0;
    bool would_block = false;
    bool end_of_stream = false;  ///< reads only: the peer closed its side
    SocketError error;

    /// Reads: nothing more will come (the peer closed its side, or the read failed).
    [[nodiscard]] bool ended() const noexcept { return end_of_stream || !error.ok(); }
};

IoResult read_some(const Socket& s, std::span<std::byte> into) noexcept;
/// Like `read_some`, but the bytes stay in the socket to be read again.
IoResult peek_some(const Socket& s, std::span<std::byte> into) noexcept;
/// What a read that returned `n` (with `os_error` when negative) means; a completion's result too.
IoResult read_result(long n, int os_error) noexcept;
/// What a write that returned `n` (with `os_error` when negative) means.
IoResult write_result(long n, int os_error) noexcept;
IoResult write_vectored(const Socket& s, std::span<const native::IoSlice> parts) noexcept;
/// The flags every send uses (no SIGPIPE from a reset peer where the OS allows it).
int send_flags() noexcept;

/// Removes a UDS socket file, whatever file the path names now.
void remove_socket_file(const std::string& path) noexcept;

/// A filesystem UDS listener's socket file, as it was when bound. Removed when the listener
/// closes, but only while the path still names that same file (device and inode): a newer
/// listener on the same path keeps its file.
class SocketFile {
public:
    SocketFile() = default;
    /// The file `path` names now: call it right after binding.
    [[nodiscard]] static SocketFile bound_at(std::string path) noexcept;
    /// Removes the file if the path still names it; then forgets it. Idempotent.
    void remove() noexcept;
    [[nodiscard]] bool empty() const noexcept { return path_.empty(); }

private:
    std::string path_;
    std::uint64_t device_ = 0;
    std::uint64_t number_ = 0;
    bool identified_ = false;
};

/// Shuts down the sending side (the peer reads end of stream after our data).
void shutdown_send(const Socket& s) noexcept;

/// The OS error text, for reports.
std::string os_error_text(int os_error);

}  // namespace tofu::detail

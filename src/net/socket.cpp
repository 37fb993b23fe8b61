#include "net/socket.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace tofu::detail {
namespace {

SocketError os_failure(AmpeStatus status) noexcept {
    return SocketError{status, errno};
}

/// Errors of an established connection that mean the peer is gone: it reset or closed the
/// connection, or it stopped answering (keepalive, TCP_USER_TIMEOUT, no route to it any more).
bool peer_gone(int error) noexcept {
    switch (error) {
        case EPIPE:
        case ECONNRESET:
        case ETIMEDOUT:
        case EHOSTUNREACH:
        case ENETUNREACH:
        case ENETDOWN: return true;
        default: return false;
    }
}

/// The status of a failed read or write on an established connection.
SocketError failure_of(int os_error) noexcept {
    return SocketError{peer_gone(os_error) ? AmpeStatus::peer_disconnected : AmpeStatus::communication_failed,
                       os_error};
}

bool is_tcp(int family) noexcept {
    return family == AF_INET || family == AF_INET6;
}

/// Keepalive probes that give up on a silent peer within about `timeout`, and TCP_USER_TIMEOUT
/// for data it never acknowledges. Keepalive counts whole seconds, at least one.
SocketError set_dead_peer_timeout(const Socket& s, std::chrono::milliseconds timeout) {
    const auto whole_seconds = [](std::chrono::milliseconds t) {
        const auto secs = std::chrono::duration_cast<std::chrono::seconds>(t).count();
        return static_cast<int>(std::clamp<std::chrono::seconds::rep>(secs, 1, 32767));
    };
    const int on = 1;
    const int idle = whole_seconds(timeout / 2);      // quiet this long, then probe
    const int interval = whole_seconds(timeout / 6);  // between probes
    const int probes = 3;                             // unanswered probes before giving up
    if (::setsockopt(s.fd(), SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) != 0) {
        return os_failure(AmpeStatus::setsockopt_failed);
    }
#if defined(TCP_KEEPIDLE)
    if (::setsockopt(s.fd(), IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) != 0) {
        return os_failure(AmpeStatus::setsockopt_failed);
    }
#endif
    if (::setsockopt(s.fd(), IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval) != 0 ||
        ::setsockopt(s.fd(), IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes) != 0) {
        return os_failure(AmpeStatus::setsockopt_failed);
    }
#if defined(TCP_USER_TIMEOUT)
    const auto user_timeout = static_cast<unsigned>(timeout.count());
    if (::setsockopt(s.fd(), IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout) != 0) {
        return os_failure(AmpeStatus::setsockopt_failed);
    }
#endif
    return {};
}

/// What every connected socket gets on TCP: TCP_NODELAY and, when asked, the dead-peer timeout.
SocketError tune_connected(const Socket& s, int family, const SocketSettings& settings) {
    if (!is_tcp(family)) {
        return {};
    }
    const int on = 1;
    if (::setsockopt(s.fd(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0) {
        return os_failure(AmpeStatus::setsockopt_failed);
    }
    if (settings.dead_peer_timeout.count() > 0) {
        return set_dead_peer_timeout(s, settings.dead_peer_timeout);
    }
    return {};
}

/// The IP address (as text) and port of a TCP socket address; nothing for other families.
std::optional<std::pair<std::string, std::uint16_t>> ip_endpoint(const sockaddr_storage& a) {
    std::array<char, INET6_ADDRSTRLEN> text{};
    if (a.ss_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
        ::inet_ntop(AF_INET, &v4->sin_addr, text.data(), text.size());
        return std::pair{std::string{text.data()}, ntohs(v4->sin_port)};
    }
    if (a.ss_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
        ::inet_ntop(AF_INET6, &v6->sin6_addr, text.data(), text.size());
        return std::pair{std::string{text.data()}, ntohs(v6->sin6_port)};
    }
    return std::nullopt;
}

/// A non-blocking, close-on-exec stream socket with SO_LINGER 0 (so close() resets and reconnect
/// loops never meet TIME_WAIT).
SocketError make_socket(int family, Socket& out, AmpeStatus failure_status) {
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    Socket s{::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
#else
    Socket s{::socket(family, SOCK_STREAM, 0)};
    if (s.valid()) {
        ::fcntl(s.fd(), F_SETFL, ::fcntl(s.fd(), F_GETFL) | O_NONBLOCK);
        ::fcntl(s.fd(), F_SETFD, FD_CLOEXEC);
    }
#endif
    if (!s.valid()) {
        return os_failure(failure_status);
    }
    const linger abortive{1, 0};
    if (::setsockopt(s.fd(), SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive) != 0) {
        return os_failure(AmpeStatus::setsockopt_failed);
    }
    out = std::move(s);
    return {};
}

SocketError resolve_tcp(const std::string& host, std::uint16_t port, bool passive, SocketAddress& out) {
    out = SocketAddress{};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        out.length = sizeof(sockaddr_in);
        return {};
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        out.length = sizeof(sockaddr_in6);
        return {};
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG | (passive ? AI_PASSIVE : 0);
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
    if (rc != 0 || found == nullptr) {
        // A name that does not exist is a bad address; a resolver that could not answer is not.
        const bool no_such_name = rc == EAI_NONAME
#if defined(EAI_NODATA) && EAI_NODATA != EAI_NONAME
                                  || rc == EAI_NODATA
#endif
            ;
        return SocketError{no_such_name ? AmpeStatus::invalid_address : AmpeStatus::connect_failed, 0};
    }
    std::memcpy(&out.storage, found->ai_addr, found->ai_addrlen);
    out.length = found->ai_addrlen;
    ::freeaddrinfo(found);
    if (out.family() == AF_INET) {
        v4->sin_port = htons(port);
    } else {
        v6->sin6_port = htons(port);
    }
    return {};
}

SocketError resolve_uds(const std::string& path, SocketAddress& out) {
    out = SocketAddress{};
    auto* un = reinterpret_cast<sockaddr_un*>(&out.storage);
    un->sun_family = AF_UNIX;
    if (path.size() >= sizeof un->sun_path) {
        return SocketError{AmpeStatus::invalid_address, ENAMETOOLONG};
    }
    std::memcpy(un->sun_path, path.data(), path.size());
    const auto base = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path));
    if (!path.empty() && path.front() == '@') {
        un->sun_path[0] = '\0';  // Linux abstract namespace: no terminating NUL, length is exact
        out.length = base + static_cast<socklen_t>(path.size());
    } else {
        un->sun_path[path.size()] = '\0';
        out.length = base + static_cast<socklen_t>(path.size()) + 1;
    }
    return {};
}

bool is_filesystem_uds(const SocketAddress& a) noexcept {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&a.storage);
    return a.family() == AF_UNIX && un->sun_path[0] != '\0';
}

/// Removes a UDS socket file nobody listens on. Fails for a live listener or a non-socket file.
SocketError clear_stale_uds(const SocketAddress& where) {
    const char* path = reinterpret_cast<const sockaddr_un*>(&where.storage)->sun_path;
    struct stat st {};
    if (::lstat(path, &st) != 0) {
        return {};  // nothing there
    }
    if (!S_ISSOCK(st.st_mode)) {
        return SocketError{AmpeStatus::listen_failed, EEXIST};
    }
    Socket probe;
    if (const auto e = make_socket(AF_UNIX, probe, AmpeStatus::listen_failed); !e.ok()) {
        return e;
    }
    // A UDS connect completes or fails at once, even on a non-blocking socket.
    if (::connect(probe.fd(), where.get(), where.length) == 0 || errno == EAGAIN) {
        return SocketError{AmpeStatus::listen_failed, EADDRINUSE};
    }
    if (errno == ECONNREFUSED) {
        ::unlink(path);
    }
    return {};
}

}  // namespace

void Socket::close() noexcept {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

SocketError resolve(const Address& address, SocketAddress& out) {
    return std::visit(
        [&](const auto& a) -> SocketError {
            using A = std::decay_t<decltype(a)>;
            if constexpr (std::is_same_v<A, TcpClientAddress>) {
                return resolve_tcp(a.host, a.port, false, out);
            } else if constexpr (std::is_same_v<A, TcpServerAddress>) {
                return resolve_tcp(a.ip, a.port, true, out);
            } else {
                return resolve_uds(a.path, out);
            }
        },
        address);
}

SocketError open_listener(const SocketAddress& where, const SocketSettings& settings, Socket& out) {
    if (is_filesystem_uds(where)) {
        if (const auto e = clear_stale_uds(where); !e.ok()) {
            return e;
        }
    }
    Socket s;
    if (const auto e = make_socket(where.family(), s, AmpeStatus::listen_failed); !e.ok()) {
        return e;
    }
    if (where.family() != AF_UNIX) {
        const int on = 1;
        if (::setsockopt(s.fd(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
            return os_failure(AmpeStatus::setsockopt_failed);
        }
    }
    if (::bind(s.fd(), where.get(), where.length) != 0) {
        const bool missing_dir = where.family() == AF_UNIX && errno == ENOENT;
        return os_failure(missing_dir ? AmpeStatus::uds_path_not_found : AmpeStatus::listen_failed);
    }
    // Before listen(): until then nobody can connect, so no one slips in under a wider mode.
    if (is_filesystem_uds(where)) {
        const auto* sun = reinterpret_cast<const sockaddr_un*>(where.get());
        if (::chmod(sun->sun_path, static_cast<mode_t>(settings.uds_file_mode)) != 0) {
            const SocketError e = os_failure(AmpeStatus::listen_failed);
            ::unlink(sun->sun_path);
            return e;
        }
    }
    if (::listen(s.fd(), SOMAXCONN) != 0) {
        return os_failure(AmpeStatus::listen_failed);
    }
    out = std::move(s);
    return {};
}

SocketError open_connecting(const SocketAddress& where, const SocketSettings& settings, Socket& out) {
    Socket s;
    if (const auto e = make_socket(where.family(), s, AmpeStatus::connect_failed); !e.ok()) {
        return e;
    }
    if (const auto e = tune_connected(s, where.family(), settings); !e.ok()) {
        return e;
    }
    out = std::move(s);
    return {};
}

SocketError connect_failure(int os_error) noexcept {
    const bool missing = os_error == ENOENT || os_error == ENOTDIR;  // only a UDS path can be missing
    return SocketError{missing ? AmpeStatus::uds_path_not_found : AmpeStatus::connect_failed, os_error};
}

SocketError start_connect(const SocketAddress& where, const SocketSettings& settings, Socket& out,
                          bool& in_progress) {
    Socket s;
    if (const auto e = open_connecting(where, settings, s); !e.ok()) {
        return e;
    }
    in_progress = false;
    if (::connect(s.fd(), where.get(), where.length) != 0) {
        if (errno != EINPROGRESS) {
            return connect_failure(errno);
        }
        in_progress = true;
    }
    out = std::move(s);
    return {};
}

SocketError finish_connect(const Socket& s) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        return os_failure(AmpeStatus::connect_failed);
    }
    return err == 0 ? SocketError{} : SocketError{AmpeStatus::connect_failed, err};
}

SocketError accept_one(const Socket& listener, const SocketSettings& settings, Socket& out) {
#if defined(__linux__)
    Socket s{::accept4(listener.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)};
#else
    Socket s{::accept(listener.fd(), nullptr, nullptr)};
    if (s.valid()) {
        ::fcntl(s.fd(), F_SETFL, ::fcntl(s.fd(), F_GETFL) | O_NONBLOCK);
        ::fcntl(s.fd(), F_SETFD, FD_CLOEXEC);
    }
#endif
    if (!s.valid()) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) {
            return {};
        }
        return os_failure(AmpeStatus::accept_failed);
    }
    if (const auto e = tune_accepted(s, settings); !e.ok()) {
        return e;
    }
    out = std::move(s);
    return {};
}

SocketError tune_accepted(const Socket& s, const SocketSettings& settings) {
    const linger abortive{1, 0};
    if (::setsockopt(s.fd(), SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive) != 0) {
        return os_failure(AmpeStatus::setsockopt_failed);
    }
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    if (::getsockname(s.fd(), reinterpret_cast<sockaddr*>(&local), &len) != 0) {
        return os_failure(AmpeStatus::accept_failed);
    }
    return tune_connected(s, local.ss_family, settings);
}

Address bound_address(const Socket& s, const Address& requested) {
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    if (::getsockname(s.fd(), reinterpret_cast<sockaddr*>(&local), &len) != 0) {
        return requested;
    }
    if (auto ip = ip_endpoint(local)) {
        return TcpServerAddress{std::move(ip->first), ip->second};
    }
    return requested;
}

std::string describe_peer(const Socket& s) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    if (::getpeername(s.fd(), reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
        return {};
    }
    if (const auto ip = ip_endpoint(peer)) {
        return "tcp|" + ip->first + "|" + std::to_string(ip->second);
    }
#if defined(SO_PEERCRED)
    ucred cred{};
    socklen_t cred_len = sizeof cred;
    if (::getsockopt(s.fd(), SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0) {
        return "uds|uid=" + std::to_string(cred.uid) + "|gid=" + std::to_string(cred.gid) +
               "|pid=" + std::to_string(cred.pid);
    }
#else
    uid_t uid = 0;
    gid_t gid = 0;
    if (::getpeereid(s.fd(), &uid, &gid) == 0) {
        return "uds|uid=" + std::to_string(uid) + "|gid=" + std::to_string(gid);
    }
#endif
    return {};
}

IoResult read_result(long n, int os_error) noexcept {
    IoResult r;
    if (n > 0) {
        r.bytes = static_cast<std::size_t>(n);
    } else if (n == 0) {
        r.end_of_stream = true;
    } else if (os_error == EAGAIN || os_error == EWOULDBLOCK || os_error == EINTR) {
        r.would_block = true;
    } else {
        r.error = failure_of(os_error);
    }
    return r;
}

IoResult write_result(long n, int os_error) noexcept {
    IoResult r;
    if (n >= 0) {
        r.bytes = static_cast<std::size_t>(n);
    } else if (os_error == EAGAIN || os_error == EWOULDBLOCK || os_error == EINTR) {
        r.would_block = true;
    } else {
        r.error = failure_of(os_error);
    }
    return r;
}

IoResult read_some(const Socket& s, std::span<std::byte> into) noexcept {
    const ssize_t n = ::recv(s.fd(), into.data(), into.size(), 0);
    return read_result(n, n < 0 ? errno : 0);
}

IoResult write_vectored(const Socket& s, std::span<const iovec> parts) noexcept {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(parts.data());  // sendmsg does not write through it
    msg.msg_iovlen = parts.size();
    const ssize_t n = ::sendmsg(s.fd(), &msg, send_flags());
    return write_result(n, n < 0 ? errno : 0);
}

int send_flags() noexcept {
#if defined(MSG_NOSIGNAL)
    return MSG_NOSIGNAL;  // a reset peer must not raise SIGPIPE
#else
    return 0;
#endif
}

void shutdown_send(const Socket& s) noexcept {
    ::shutdown(s.fd(), SHUT_WR);
}

std::string os_error_text(int os_error) {
    // system_category().message() is thread-safe, unlike strerror().
    return os_error == 0 ? std::string{} : std::system_category().message(os_error);
}

}  // namespace tofu::detail

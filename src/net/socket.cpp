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

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/stat.h>
#endif

namespace tofu::detail {
namespace {

#if defined(_WIN32)
// Winsock's names for the TCP options of Windows 10 1709 and later, where mingw-w64 lacks them.
#if !defined(TCP_KEEPIDLE)
constexpr int TCP_KEEPIDLE = 3;  // NOLINT(readability-identifier-naming): the OS's name
#endif
#if !defined(TCP_KEEPCNT)
constexpr int TCP_KEEPCNT = 16;  // NOLINT(readability-identifier-naming)
#endif
#if !defined(TCP_KEEPINTVL)
constexpr int TCP_KEEPINTVL = 17;  // NOLINT(readability-identifier-naming)
#endif
#endif

SocketError os_failure(AmpeStatus status) noexcept {
    return SocketError{status, native::last_error()};
}

/// setsockopt on an owned socket.
template <typename T>
bool set_option(const Socket& s, int level, int name, const T& value) noexcept {
    return native::set_option(s.fd(), level, name, value);
}

/// The status of a failed read or write on an established connection: the peer is gone when it
/// reset or closed the connection or stopped answering (keepalive, user timeout, no route).
SocketError failure_of(int os_error) noexcept {
    return SocketError{
        native::peer_gone(os_error) ? AmpeStatus::peer_disconnected : AmpeStatus::communication_failed,
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
    if (!set_option(s, SOL_SOCKET, SO_KEEPALIVE, on)) {
        return os_failure(AmpeStatus::setsockopt_failed);
    }
#if defined(TCP_KEEPIDLE) || defined(_WIN32)
    if (!set_option(s, IPPROTO_TCP, TCP_KEEPIDLE, idle)) {
        return os_failure(AmpeStatus::setsockopt_failed);
    }
#endif
    if (!set_option(s, IPPROTO_TCP, TCP_KEEPINTVL, interval) ||
        !set_option(s, IPPROTO_TCP, TCP_KEEPCNT, probes)) {
        return os_failure(AmpeStatus::setsockopt_failed);
    }
#if defined(TCP_USER_TIMEOUT)
    const auto user_timeout = static_cast<unsigned>(timeout.count());
    if (!set_option(s, IPPROTO_TCP, TCP_USER_TIMEOUT, user_timeout)) {
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
    if (!set_option(s, IPPROTO_TCP, TCP_NODELAY, on)) {
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

#if !defined(__linux__)  // Linux sets both flags as it makes the socket (socket, accept4)
/// Makes a socket non-blocking and keeps it out of child processes (where the OS did not already).
bool make_private_and_nonblocking(const Socket& s) noexcept {
#if defined(_WIN32)
    u_long on = 1;
    return ::ioctlsocket(native::handle(s.fd()), FIONBIO, &on) == 0 &&
           ::SetHandleInformation(reinterpret_cast<HANDLE>(native::handle(s.fd())), HANDLE_FLAG_INHERIT, 0) !=
               0;
#else
    return ::fcntl(s.fd(), F_SETFL, ::fcntl(s.fd(), F_GETFL) | O_NONBLOCK) == 0 &&
           ::fcntl(s.fd(), F_SETFD, FD_CLOEXEC) == 0;
#endif
}
#endif

/// A new stream socket, non-blocking and private to this process.
Socket new_stream_socket(int family) noexcept {
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    return Socket{::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
#else
#if defined(_WIN32)
    Socket s{static_cast<int>(::WSASocketW(family, SOCK_STREAM, 0, nullptr, 0, WSA_FLAG_NO_HANDLE_INHERIT))};
#else
    Socket s{::socket(family, SOCK_STREAM, 0)};
#endif
    if (s.valid() && !make_private_and_nonblocking(s)) {
        s.close();
    }
    return s;
#endif
}

/// A non-blocking stream socket with SO_LINGER 0 (so close() resets and reconnect loops never
/// meet TIME_WAIT).
SocketError make_socket(int family, Socket& out, AmpeStatus failure_status) {
    Socket s = new_stream_socket(family);
    if (!s.valid()) {
        return os_failure(failure_status);
    }
    const linger abortive{1, 0};
    if (!set_option(s, SOL_SOCKET, SO_LINGER, abortive)) {
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
    out.length = static_cast<native::socklen>(found->ai_addrlen);
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
        return SocketError{AmpeStatus::invalid_address, native::err::name_too_long};
    }
    std::memcpy(un->sun_path, path.data(), path.size());
    const auto base = static_cast<native::socklen>(offsetof(sockaddr_un, sun_path));
    if (!path.empty() && path.front() == '@') {
        un->sun_path[0] = '\0';  // Linux abstract namespace: no terminating NUL, length is exact
        out.length = base + static_cast<native::socklen>(path.size());
    } else {
        un->sun_path[path.size()] = '\0';
        out.length = base + static_cast<native::socklen>(path.size()) + 1;
    }
    return {};
}

bool is_filesystem_uds(const SocketAddress& a) noexcept {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&a.storage);
    return a.family() == AF_UNIX && un->sun_path[0] != '\0';
}

enum class PathKind : std::uint8_t { absent, socket_file, other };

/// What a UDS path names now (Windows marks a socket file as a reparse point).
PathKind path_kind(const char* path) noexcept {
#if defined(_WIN32)
    const DWORD attributes = ::GetFileAttributesA(path);
    if (attributes == INVALID_FILE_ATTRIBUTES) {
        return PathKind::absent;
    }
    return (attributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0 ? PathKind::socket_file : PathKind::other;
#else
    struct stat st {};
    if (::lstat(path, &st) != 0) {
        return PathKind::absent;
    }
    return S_ISSOCK(st.st_mode) ? PathKind::socket_file : PathKind::other;
#endif
}

/// Removes a UDS socket file nobody listens on. Fails for a live listener or a non-socket file.
SocketError clear_stale_uds(const SocketAddress& where) {
    const char* path = reinterpret_cast<const sockaddr_un*>(&where.storage)->sun_path;
    switch (path_kind(path)) {
        case PathKind::absent: return {};
        case PathKind::other: return SocketError{AmpeStatus::listen_failed, native::err::not_a_socket_file};
        case PathKind::socket_file: break;
    }
    Socket probe;
    if (const auto e = make_socket(AF_UNIX, probe, AmpeStatus::listen_failed); !e.ok()) {
        return e;
    }
    // A UDS connect completes or fails at once, even on a non-blocking socket.
    const bool connected = ::connect(probe.fd(), where.get(), where.length) == 0;
    const int error = connected ? 0 : native::last_error();
    if (connected || native::would_block(error)) {
        return SocketError{AmpeStatus::listen_failed, native::err::address_in_use};
    }
    if (error == native::err::connection_refused) {
        remove_socket_file(path);
    }
    return {};
}

}  // namespace

#if defined(_WIN32)
int native::start_sockets() noexcept {
    // Once per process, never undone: sockets may live until exit, and exit releases Winsock.
    static const int result = [] {
        WSADATA data{};
        return ::WSAStartup(MAKEWORD(2, 2), &data);
    }();
    return result;
}
#endif

void Socket::close() noexcept {
    if (fd_ >= 0) {
        native::close_socket(fd_);
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
#if !defined(_WIN32)
    // A restarted server binds its port even while old connections sit in TIME_WAIT. Not on
    // Windows, where SO_REUSEADDR would let a second listener take a port already bound.
    if (where.family() != AF_UNIX) {
        const int on = 1;
        if (!set_option(s, SOL_SOCKET, SO_REUSEADDR, on)) {
            return os_failure(AmpeStatus::setsockopt_failed);
        }
    }
#endif
    if (::bind(s.fd(), where.get(), where.length) != 0) {
        const SocketError e = os_failure(AmpeStatus::listen_failed);
        const bool missing_dir = where.family() == AF_UNIX && native::missing_path(e.os_error);
        return missing_dir ? SocketError{AmpeStatus::uds_path_not_found, e.os_error} : e;
    }
#if !defined(_WIN32)
    // Before listen(): until then nobody can connect, so no one slips in under a wider mode.
    // (Windows guards a socket file with the directory's ACL instead.)
    if (is_filesystem_uds(where)) {
        const auto* sun = reinterpret_cast<const sockaddr_un*>(where.get());
        if (::chmod(sun->sun_path, static_cast<mode_t>(settings.uds_file_mode)) != 0) {
            const SocketError e = os_failure(AmpeStatus::listen_failed);
            remove_socket_file(sun->sun_path);
            return e;
        }
    }
#else
    (void)settings;
#endif
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
    const bool missing = native::missing_path(os_error);  // only a UDS path can be missing
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
        const int error = native::last_error();
        if (error != native::err::connect_pending) {
            return connect_failure(error);
        }
        in_progress = true;
    }
    out = std::move(s);
    return {};
}

SocketError finish_connect(const Socket& s) {
    int err = 0;
    native::socklen len = sizeof err;
    if (::getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&err), &len) != 0) {
        return os_failure(AmpeStatus::connect_failed);
    }
    return err == 0 ? SocketError{} : SocketError{AmpeStatus::connect_failed, err};
}

SocketError accept_one(const Socket& listener, const SocketSettings& settings, Socket& out) {
#if defined(__linux__)
    Socket s{::accept4(listener.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)};
#else
    Socket s{static_cast<int>(::accept(listener.fd(), nullptr, nullptr))};
    if (s.valid() && !make_private_and_nonblocking(s)) {
        return os_failure(AmpeStatus::accept_failed);
    }
#endif
    if (!s.valid()) {
        const int error = native::last_error();
        if (native::would_block(error) || error == native::err::connection_aborted) {
            return {};
        }
        return SocketError{AmpeStatus::accept_failed, error};
    }
    if (const auto e = tune_accepted(s, settings); !e.ok()) {
        return e;
    }
    out = std::move(s);
    return {};
}

SocketError tune_accepted(const Socket& s, const SocketSettings& settings) {
    const linger abortive{1, 0};
    if (!set_option(s, SOL_SOCKET, SO_LINGER, abortive)) {
        return os_failure(AmpeStatus::setsockopt_failed);
    }
    sockaddr_storage local{};
    native::socklen len = sizeof local;
    if (::getsockname(s.fd(), reinterpret_cast<sockaddr*>(&local), &len) != 0) {
        return os_failure(AmpeStatus::accept_failed);
    }
    return tune_connected(s, local.ss_family, settings);
}

Address bound_address(const Socket& s, const Address& requested) {
    sockaddr_storage local{};
    native::socklen len = sizeof local;
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
    native::socklen len = sizeof peer;
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
#elif !defined(_WIN32)
    uid_t uid = 0;
    gid_t gid = 0;
    if (::getpeereid(s.fd(), &uid, &gid) == 0) {
        return "uds|uid=" + std::to_string(uid) + "|gid=" + std::to_string(gid);
    }
#else
    if (peer.ss_family == AF_UNIX) {
        return "uds";  // Windows does not tell who is at the other end
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
    } else if (native::would_block(os_error)) {
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
    } else if (native::would_block(os_error)) {
        r.would_block = true;
    } else {
        r.error = failure_of(os_error);
    }
    return r;
}

IoResult read_some(const Socket& s, std::span<std::byte> into) noexcept {
    const long n = native::recv_bytes(s.fd(), into.data(), into.size());
    return read_result(n, n < 0 ? native::last_error() : 0);
}

IoResult peek_some(const Socket& s, std::span<std::byte> into) noexcept {
    const long n = native::recv_bytes(s.fd(), into.data(), into.size(), MSG_PEEK);
    return read_result(n, n < 0 ? native::last_error() : 0);
}

IoResult write_vectored(const Socket& s, std::span<const native::IoSlice> parts) noexcept {
    const long n = native::send_vectored(s.fd(), parts);
    return write_result(n, n < 0 ? native::last_error() : 0);
}

int send_flags() noexcept {
    return native::send_flags;
}

void remove_socket_file(const std::string& path) noexcept {
#if defined(_WIN32)
    ::DeleteFileA(path.c_str());
#else
    ::unlink(path.c_str());
#endif
}

namespace {

/// Which file `path` names now: {device, file number}, or nothing when that cannot be told.
std::optional<std::pair<std::uint64_t, std::uint64_t>> file_identity(const std::string& path) noexcept {
#if defined(_WIN32)
    // A socket file is a reparse point: opened as itself, not followed.
    const HANDLE h = ::CreateFileA(
        path.c_str(), FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
        OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, nullptr);
    if (h == INVALID_HANDLE_VALUE) {
        return std::nullopt;
    }
    BY_HANDLE_FILE_INFORMATION info{};
    const bool known = ::GetFileInformationByHandle(h, &info) != 0;
    ::CloseHandle(h);
    if (!known) {
        return std::nullopt;
    }
    return std::pair{std::uint64_t{info.dwVolumeSerialNumber},
                     (std::uint64_t{info.nFileIndexHigh} << 32U) | info.nFileIndexLow};
#else
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        return std::nullopt;
    }
    return std::pair{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
#endif
}

}  // namespace

SocketFile SocketFile::bound_at(std::string path) noexcept {
    SocketFile file;
    if (const auto id = file_identity(path)) {
        file.device_ = id->first;
        file.number_ = id->second;
        file.identified_ = true;
    }
    file.path_ = std::move(path);
    return file;
}

void SocketFile::remove() noexcept {
    if (path_.empty()) {
        return;
    }
    // Another listener may have bound the path since (after removing ours as stale, or after
    // someone deleted it): its file is not ours to remove. When the file could not be told apart
    // at bind time, it is removed as before.
    const auto now = file_identity(path_);
    if (!identified_ || (now && now->first == device_ && now->second == number_)) {
        remove_socket_file(path_);
    }
    path_.clear();
}

void shutdown_send(const Socket& s) noexcept {
    ::shutdown(native::handle(s.fd()), native::shut_write);
}

std::string os_error_text(int os_error) {
    if (os_error == 0) {
        return {};
    }
#if defined(_WIN32)
    // Winsock's errors are Windows error codes: FormatMessage knows them, strerror does not.
    std::array<char, 256> text{};
    const DWORD n = ::FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
                                     static_cast<DWORD>(os_error), 0, text.data(), text.size(), nullptr);
    std::string message{text.data(), n};
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r' || message.back() == '.')) {
        message.pop_back();
    }
    return message.empty() ? "Windows error " + std::to_string(os_error) : message;
#else
    // system_category().message() is thread-safe, unlike strerror().
    return std::system_category().message(os_error);
#endif
}

}  // namespace tofu::detail

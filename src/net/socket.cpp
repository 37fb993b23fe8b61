// What the engine does with sockets, the same on every OS: what differs is in net/native_socket.hpp
// and net/socket_os.hpp.
#include "net/socket.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "net/native_socket.hpp"
#include "net/socket_os.hpp"

namespace tofu::detail {
namespace {

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
    if (!set_option(s, SOL_SOCKET, SO_KEEPALIVE, on) ||
        !os::set_dead_peer_options(s, idle, interval, probes, timeout)) {
        return os_failure(AmpeStatus::setsockopt_failed);
    }
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

/// A non-blocking stream socket with SO_LINGER 0 (so close() resets and reconnect loops never
/// meet TIME_WAIT).
SocketError make_socket(int family, Socket& out, AmpeStatus failure_status) {
    Socket s = os::new_stream_socket(family);
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

/// Fills `out` from an IPv4 or IPv6 literal; false when `host` is neither.
bool parse_ip_literal(const std::string& host, std::uint16_t port, SocketAddress& out) noexcept {
    out = SocketAddress{};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        out.length = sizeof(sockaddr_in);
        return true;
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        out.length = sizeof(sockaddr_in6);
        return true;
    }
    return false;
}

SocketError resolve_tcp(const std::string& host, std::uint16_t port, bool passive, SocketAddress& out) {
    if (parse_ip_literal(host, port, out)) {
        return {};
    }
    LookupResult found = look_up(host, port, passive);
    out = found.address;
    return found.error;
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

/// Removes a UDS socket file nobody listens on. Fails for a live listener or a non-socket file.
SocketError clear_stale_uds(const SocketAddress& where) {
    const char* path = reinterpret_cast<const sockaddr_un*>(&where.storage)->sun_path;
    switch (os::path_kind(path)) {
        case os::PathKind::absent: return {};
        case os::PathKind::other:
            return SocketError{AmpeStatus::listen_failed, native::err::not_a_socket_file};
        case os::PathKind::socket_file: break;
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
            if constexpr (std::is_same_v<A, TcpClientAddress> || std::is_same_v<A, TlsClientAddress>) {
                return resolve_tcp(a.host, a.port, false, out);
            } else if constexpr (std::is_same_v<A, TcpServerAddress> || std::is_same_v<A, TlsServerAddress>) {
                return resolve_tcp(a.ip, a.port, true, out);
            } else {
                return resolve_uds(a.path, out);
            }
        },
        address);
}

bool is_ip_literal(const std::string& host) noexcept {
    SocketAddress ignored;
    return parse_ip_literal(host, 0, ignored);
}

std::optional<HostName> host_name_of(const Address& address) {
    const auto named = [](const std::string& host, std::uint16_t port) -> std::optional<HostName> {
        SocketAddress ignored;
        return parse_ip_literal(host, 0, ignored) ? std::nullopt : std::optional{HostName{host, port}};
    };
    if (const auto* tcp = std::get_if<TcpClientAddress>(&address)) {
        return named(tcp->host, tcp->port);
    }
    if (const auto* tcp = std::get_if<TcpServerAddress>(&address)) {
        return named(tcp->ip, tcp->port);
    }
    if (const auto* tls = std::get_if<TlsClientAddress>(&address)) {
        return named(tls->host, tls->port);
    }
    if (const auto* tls = std::get_if<TlsServerAddress>(&address)) {
        return named(tls->ip, tls->port);
    }
    return std::nullopt;
}

LookupResult look_up(const std::string& host, std::uint16_t port, bool passive) {
    LookupResult r;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG | (passive ? AI_PASSIVE : 0);
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
    if (rc != 0 || found == nullptr) {
        // A resolver that could not answer now may answer later: the connect or listen failed, the
        // address did not. Anything else says the name is no good here.
        const std::string why = rc != 0 ? os::lookup_error_text(rc) : std::string{"no address found"};
        r.error.status = rc == EAI_AGAIN ? try_later_status(passive) : AmpeStatus::invalid_address;
        r.detail = "cannot resolve " + host + ": " + why;
        return r;
    }
    std::memcpy(&r.address.storage, found->ai_addr, found->ai_addrlen);
    r.address.length = static_cast<native::socklen>(found->ai_addrlen);
    ::freeaddrinfo(found);
    if (r.address.family() == AF_INET) {
        reinterpret_cast<sockaddr_in*>(&r.address.storage)->sin_port = htons(port);
    } else {
        reinterpret_cast<sockaddr_in6*>(&r.address.storage)->sin6_port = htons(port);
    }
    return r;
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
    if (where.family() != AF_UNIX && !os::allow_quick_rebind(s)) {
        return os_failure(AmpeStatus::setsockopt_failed);
    }
    if (::bind(s.fd(), where.get(), where.length) != 0) {
        const SocketError e = os_failure(AmpeStatus::listen_failed);
        const bool missing_dir = where.family() == AF_UNIX && native::missing_path(e.os_error);
        return missing_dir ? SocketError{AmpeStatus::uds_path_not_found, e.os_error} : e;
    }
    if (is_filesystem_uds(where)) {
        const auto* sun = reinterpret_cast<const sockaddr_un*>(where.get());
        if (!os::set_socket_file_mode(sun->sun_path, settings.uds_file_mode)) {
            const SocketError e = os_failure(AmpeStatus::listen_failed);
            remove_socket_file(sun->sun_path);
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
    Socket s;
    if (const auto e = os::accept_socket(listener, s); !e.ok()) {
        return e;
    }
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
        if (std::holds_alternative<TlsServerAddress>(requested)) {
            return TlsServerAddress{std::move(ip->first), ip->second};
        }
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
    return os::describe_uds_peer(s, peer.ss_family);
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
    os::remove_file(path.c_str());
}

SocketFile SocketFile::bound_at(std::string path) noexcept {
    SocketFile file;
    if (const auto id = os::file_identity(path)) {
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
    const auto now = os::file_identity(path_);
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
    return os::error_text(os_error);
}

}  // namespace tofu::detail

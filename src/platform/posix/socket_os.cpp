// net/socket_os.hpp on POSIX systems. Where the OS can, a socket is made non-blocking and private
// as it is created (SOCK_NONBLOCK, Linux's accept4); elsewhere fcntl does it after.
#include "net/socket_os.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <tofu/status.hpp>

#include "net/native_socket.hpp"
#include "net/socket.hpp"

namespace tofu::detail::os {
namespace {

#if !defined(__linux__)
/// Makes a socket non-blocking and keeps it out of child processes.
bool make_private_and_nonblocking(const Socket& s) noexcept {
    return ::fcntl(s.fd(), F_SETFL, ::fcntl(s.fd(), F_GETFL) | O_NONBLOCK) == 0 &&
           ::fcntl(s.fd(), F_SETFD, FD_CLOEXEC) == 0;
}
#endif

}  // namespace

Socket new_stream_socket(int family) noexcept {
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    return Socket{::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
#else
    Socket s{::socket(family, SOCK_STREAM, 0)};
    if (s.valid() && !make_private_and_nonblocking(s)) {
        s.close();
    }
    return s;
#endif
}

SocketError accept_socket(const Socket& listener, Socket& out) noexcept {
#if defined(__linux__)
    out = Socket{::accept4(listener.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)};
#else
    Socket s{::accept(listener.fd(), nullptr, nullptr)};
    if (s.valid() && !make_private_and_nonblocking(s)) {
        return SocketError{AmpeStatus::accept_failed, native::last_error()};
    }
    out = std::move(s);
#endif
    return {};
}

bool set_dead_peer_options(const Socket& s, [[maybe_unused]] int idle, int interval, int probes,
                           [[maybe_unused]] std::chrono::milliseconds timeout) noexcept {
#if defined(TCP_KEEPIDLE)
    if (!native::set_option(s.fd(), IPPROTO_TCP, TCP_KEEPIDLE, idle)) {
        return false;
    }
#endif
    if (!native::set_option(s.fd(), IPPROTO_TCP, TCP_KEEPINTVL, interval) ||
        !native::set_option(s.fd(), IPPROTO_TCP, TCP_KEEPCNT, probes)) {
        return false;
    }
#if defined(TCP_USER_TIMEOUT)
    // The kernel takes an int of milliseconds: a longer timeout is as good as never.
    const auto user_timeout = static_cast<int>(
        std::min<std::chrono::milliseconds::rep>(timeout.count(), std::numeric_limits<int>::max()));
    return native::set_option(s.fd(), IPPROTO_TCP, TCP_USER_TIMEOUT, user_timeout);
#else
    return true;
#endif
}

bool allow_quick_rebind(const Socket& s) noexcept {
    const int on = 1;
    return native::set_option(s.fd(), SOL_SOCKET, SO_REUSEADDR, on);
}

bool set_socket_file_mode(const char* path, std::uint32_t mode) noexcept {
    return ::chmod(path, static_cast<mode_t>(mode)) == 0;
}

PathKind path_kind(const char* path) noexcept {
    struct stat st {};
    if (::lstat(path, &st) != 0) {
        return PathKind::absent;
    }
    return S_ISSOCK(st.st_mode) ? PathKind::socket_file : PathKind::other;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> file_identity(const std::string& path) noexcept {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        return std::nullopt;
    }
    return std::pair{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

void remove_file(const char* path) noexcept {
    ::unlink(path);
}

std::string describe_uds_peer(const Socket& s, int /*peer_family*/) {
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

std::string error_text(int os_error) {
    // system_category().message() is thread-safe, unlike strerror().
    return std::system_category().message(os_error);
}

std::string lookup_error_text(int code) {
    if (code == EAI_SYSTEM) {
        return error_text(errno);  // read at once: the caller has done nothing since getaddrinfo
    }
    return ::gai_strerror(code);  // constant strings on the POSIX systems tofu runs on
}

}  // namespace tofu::detail::os

// The socket API where POSIX and Winsock differ, behind one name each, so the code above reads the
// same on every OS (as libuv splits unix/ from win/). A socket is an `int` everywhere: Winsock's
// SOCKET is a kernel handle, and Windows keeps handles within 32 bits for 32-bit interop.
#pragma once

#if defined(_WIN32)
#include <winsock2.h>
#include <ws2tcpip.h>
// winsock2.h first: afunix.h needs its types.
#include <afunix.h>
#else
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#endif

#include <algorithm>
#include <array>
#include <climits>
#include <cstddef>

namespace tofu::detail::native {

#if defined(_WIN32)

using socklen = int;
/// One part of a vectored write.
using IoSlice = WSABUF;

/// Winsock must be started before any other call; the first call does it, for the process.
/// Returns the WSAStartup error, 0 on success.
int start_sockets() noexcept;

inline int last_error() noexcept {
    return ::WSAGetLastError();
}
inline SOCKET handle(int fd) noexcept {
    return static_cast<SOCKET>(fd);
}
inline int close_socket(int fd) noexcept {
    return ::closesocket(handle(fd));
}

/// `shutdown` directions.
inline constexpr int shut_read = SD_RECEIVE;
inline constexpr int shut_write = SD_SEND;
inline constexpr int shut_both = SD_BOTH;

/// One recv: bytes read, 0 at end of stream, negative on error (see last_error()).
inline long recv_bytes(int fd, std::byte* data, std::size_t size, int flags = 0) noexcept {
    return ::recv(handle(fd), reinterpret_cast<char*>(data),
                  static_cast<int>(std::min<std::size_t>(size, INT_MAX)), flags);
}
/// One send: bytes written, negative on error. There is no SIGPIPE to suppress.
inline long send_bytes(int fd, const std::byte* data, std::size_t size) noexcept {
    return ::send(handle(fd), reinterpret_cast<const char*>(data),
                  static_cast<int>(std::min<std::size_t>(size, INT_MAX)), 0);
}

/// The OS errors the engine tells apart, by meaning.
namespace err {
inline constexpr int would_block = WSAEWOULDBLOCK;
inline constexpr int interrupted = WSAEINTR;
inline constexpr int connect_pending = WSAEWOULDBLOCK;  // a non-blocking connect under way
inline constexpr int connection_aborted = WSAECONNABORTED;
inline constexpr int connection_refused = WSAECONNREFUSED;
inline constexpr int address_in_use = WSAEADDRINUSE;
inline constexpr int name_too_long = WSAENAMETOOLONG;
inline constexpr int not_a_socket_file = ERROR_FILE_EXISTS;
}  // namespace err

/// Errors of an established connection that mean the peer is gone (see `peer_gone`).
inline constexpr std::array peer_gone_errors{WSAECONNRESET, WSAECONNABORTED, WSAENETRESET,   WSAESHUTDOWN,
                                             WSAETIMEDOUT,  WSAEHOSTUNREACH, WSAENETUNREACH, WSAENETDOWN};
/// Errors of a connect that mean a UDS path does not exist (see `missing_path`).
inline constexpr std::array missing_path_errors{ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND};

inline IoSlice io_slice(const std::byte* data, std::size_t size) noexcept {
    // WSASend reads, never writes, through buf; a frame part is far below 4 GiB.
    return IoSlice{static_cast<ULONG>(size), reinterpret_cast<CHAR*>(const_cast<std::byte*>(data))};
}

#else

using socklen = socklen_t;
using IoSlice = iovec;

inline int start_sockets() noexcept {
    return 0;
}
inline int last_error() noexcept {
    return errno;
}
inline int handle(int fd) noexcept {
    return fd;
}
inline int close_socket(int fd) noexcept {
    return ::close(fd);
}

inline constexpr int shut_read = SHUT_RD;
inline constexpr int shut_write = SHUT_WR;
inline constexpr int shut_both = SHUT_RDWR;

inline long recv_bytes(int fd, std::byte* data, std::size_t size, int flags = 0) noexcept {
    return ::recv(fd, data, size, flags);
}
/// A send that never raises SIGPIPE when the peer is gone (MSG_NOSIGNAL, or SO_NOSIGPIPE set on
/// the socket where the OS has that instead).
inline long send_bytes(int fd, const std::byte* data, std::size_t size) noexcept {
#if defined(MSG_NOSIGNAL)
    return ::send(fd, data, size, MSG_NOSIGNAL);
#else
    return ::send(fd, data, size, 0);
#endif
}

namespace err {
inline constexpr int would_block = EAGAIN;
inline constexpr int interrupted = EINTR;
inline constexpr int connect_pending = EINPROGRESS;
inline constexpr int connection_aborted = ECONNABORTED;
inline constexpr int connection_refused = ECONNREFUSED;
inline constexpr int address_in_use = EADDRINUSE;
inline constexpr int name_too_long = ENAMETOOLONG;
inline constexpr int not_a_socket_file = EEXIST;
}  // namespace err

inline constexpr std::array peer_gone_errors{EPIPE,        ECONNRESET,  ETIMEDOUT,
                                             EHOSTUNREACH, ENETUNREACH, ENETDOWN};
inline constexpr std::array missing_path_errors{ENOENT, ENOTDIR};

inline IoSlice io_slice(const std::byte* data, std::size_t size) noexcept {
    return IoSlice{const_cast<std::byte*>(data), size};  // sendmsg does not write through it
}

#endif

/// setsockopt for one value (Winsock takes it as `const char*`, POSIX as `const void*`). True when
/// the OS took it.
template <typename T>
bool set_option(int fd, int level, int name, const T& value) noexcept {
    return ::setsockopt(handle(fd), level, name, reinterpret_cast<const char*>(&value), sizeof value) == 0;
}

/// Whether an error of an established connection means the peer is gone: it reset or closed the
/// connection, or it stopped answering (keepalive, user timeout, no route to it any more).
inline bool peer_gone(int error) noexcept {
    return std::ranges::find(peer_gone_errors, error) != peer_gone_errors.end();
}

/// Whether a failed connect or bind means the path of a UDS does not exist.
inline bool missing_path(int error) noexcept {
    return std::ranges::find(missing_path_errors, error) != missing_path_errors.end();
}

/// A read or write that found nothing to do now (EAGAIN and EWOULDBLOCK may differ on POSIX).
inline bool would_block(int error) noexcept {
#if defined(EWOULDBLOCK) && !defined(_WIN32)
    if (error == EWOULDBLOCK) {
        return true;
    }
#endif
    return error == err::would_block || error == err::interrupted;
}

}  // namespace tofu::detail::native

// Winsock's half of net/native_socket.hpp (include that one): errors from WSAGetLastError, sizes
// as `int`, and a start before the first call.
#pragma once

#include <winsock2.h>
#include <ws2tcpip.h>
// winsock2.h first: afunix.h needs its types.
#include <afunix.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstddef>
#include <span>

namespace tofu::detail::native {

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

/// The flags every send uses: none, as there is no SIGPIPE to suppress.
inline constexpr int send_flags = 0;

/// One recv: bytes read, 0 at end of stream, negative on error (see last_error()).
inline long recv_bytes(int fd, std::byte* data, std::size_t size, int flags = 0) noexcept {
    return ::recv(handle(fd), reinterpret_cast<char*>(data),
                  static_cast<int>(std::min<std::size_t>(size, INT_MAX)), flags);
}
/// One send: bytes written, negative on error. There is no SIGPIPE to suppress.
inline long send_bytes(int fd, const std::byte* data, std::size_t size) noexcept {
    return ::send(handle(fd), reinterpret_cast<const char*>(data),
                  static_cast<int>(std::min<std::size_t>(size, INT_MAX)), send_flags);
}
/// One vectored send (WSASend): bytes written, negative on error.
inline long send_vectored(int fd, std::span<const IoSlice> parts) noexcept {
    DWORD sent = 0;
    // WSASend reads, never writes, through the buffers.
    const bool ok = ::WSASend(handle(fd), const_cast<WSABUF*>(parts.data()), static_cast<DWORD>(parts.size()),
                              &sent, send_flags, nullptr, nullptr) == 0;
    return ok ? static_cast<long>(sent) : -1;
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

/// Errors of a read or write that found nothing to do now (see `would_block`).
inline constexpr std::array would_block_errors{err::would_block, err::interrupted};
/// Errors of an established connection that mean the peer is gone (see `peer_gone`).
inline constexpr std::array peer_gone_errors{WSAECONNRESET, WSAECONNABORTED, WSAENETRESET,   WSAESHUTDOWN,
                                             WSAETIMEDOUT,  WSAEHOSTUNREACH, WSAENETUNREACH, WSAENETDOWN};
/// Errors of a connect that mean a UDS path does not exist (see `missing_path`).
inline constexpr std::array missing_path_errors{ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND};

inline IoSlice io_slice(const std::byte* data, std::size_t size) noexcept {
    // WSASend reads, never writes, through buf; a frame part is far below 4 GiB.
    return IoSlice{static_cast<ULONG>(size), reinterpret_cast<CHAR*>(const_cast<std::byte*>(data))};
}

}  // namespace tofu::detail::native

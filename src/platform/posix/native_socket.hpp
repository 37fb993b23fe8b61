// POSIX's half of net/native_socket.hpp (include that one): BSD sockets, errors in errno.
#pragma once

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <span>

namespace tofu::detail::native {

using socklen = socklen_t;
/// One part of a vectored write.
using IoSlice = iovec;

/// Nothing to start on POSIX: 0, as Winsock's start returns on success.
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

/// `shutdown` directions.
inline constexpr int shut_read = SHUT_RD;
inline constexpr int shut_write = SHUT_WR;
inline constexpr int shut_both = SHUT_RDWR;

/// The flags every send uses: MSG_NOSIGNAL, so a peer that is gone raises no SIGPIPE, where the OS
/// has it.
#if defined(MSG_NOSIGNAL)
inline constexpr int send_flags = MSG_NOSIGNAL;
#else
inline constexpr int send_flags = 0;
#endif

/// One recv: bytes read, 0 at end of stream, negative on error (see last_error()).
inline long recv_bytes(int fd, std::byte* data, std::size_t size, int flags = 0) noexcept {
    return ::recv(fd, data, size, flags);
}
/// One send: bytes written, negative on error. It never raises SIGPIPE when the peer is gone
/// (MSG_NOSIGNAL, or SO_NOSIGPIPE set on the socket where the OS has that instead).
inline long send_bytes(int fd, const std::byte* data, std::size_t size) noexcept {
    return ::send(fd, data, size, send_flags);
}
/// One vectored send (sendmsg), with `send_flags`: bytes written, negative on error.
inline long send_vectored(int fd, std::span<const IoSlice> parts) noexcept {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(parts.data());  // sendmsg does not write through it
    msg.msg_iovlen = parts.size();
    return ::sendmsg(fd, &msg, send_flags);
}

/// The OS errors the engine tells apart, by meaning.
namespace err {
inline constexpr int would_block = EAGAIN;
inline constexpr int interrupted = EINTR;
inline constexpr int connect_pending = EINPROGRESS;  // a non-blocking connect under way
inline constexpr int connection_aborted = ECONNABORTED;
inline constexpr int connection_refused = ECONNREFUSED;
inline constexpr int address_in_use = EADDRINUSE;
inline constexpr int name_too_long = ENAMETOOLONG;
inline constexpr int not_a_socket_file = EEXIST;
}  // namespace err

/// Errors of a read or write that found nothing to do now (see `would_block`): EAGAIN and
/// EWOULDBLOCK may differ.
inline constexpr std::array would_block_errors{err::would_block, EWOULDBLOCK, err::interrupted};
/// Errors of an established connection that mean the peer is gone (see `peer_gone`).
inline constexpr std::array peer_gone_errors{EPIPE,        ECONNRESET,  ETIMEDOUT,
                                             EHOSTUNREACH, ENETUNREACH, ENETDOWN};
/// Errors of a connect that mean a UDS path does not exist (see `missing_path`).
inline constexpr std::array missing_path_errors{ENOENT, ENOTDIR};

inline IoSlice io_slice(const std::byte* data, std::size_t size) noexcept {
    return IoSlice{const_cast<std::byte*>(data), size};  // sendmsg does not write through it
}

}  // namespace tofu::detail::native

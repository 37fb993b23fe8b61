// The socket API where POSIX and Winsock differ, behind one name each, so the code above reads the
// same on every OS. Each OS's half is a file of its own, under platform/posix/ or platform/win/ (as
// libuv splits unix/ from win/); what follows them is the same everywhere. A socket is an `int`
// everywhere: Winsock's SOCKET is a kernel handle, and Windows keeps handles within 32 bits for
// 32-bit interop.
#pragma once

#if defined(_WIN32)
#include "platform/win/native_socket.hpp"
#else
#include "platform/posix/native_socket.hpp"
#endif

#include <algorithm>

namespace tofu::detail::native {

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

/// A read or write that found nothing to do now, or was interrupted: try again later.
inline bool would_block(int error) noexcept {
    return std::ranges::find(would_block_errors, error) != would_block_errors.end();
}

}  // namespace tofu::detail::native

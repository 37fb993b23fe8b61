// What net/socket.cpp asks of the OS beyond net/native_socket.hpp. One file per OS defines it,
// platform/posix/socket_os.cpp or platform/win/socket_os.cpp, picked by the build as the pollers
// are, so socket.cpp reads the same everywhere.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "net/socket.hpp"

namespace tofu::detail::os {

/// A new stream socket, non-blocking and not inherited by child processes; invalid on failure
/// (the error is then native::last_error()).
Socket new_stream_socket(int family) noexcept;

/// Accepts one pending connection as a socket like `new_stream_socket`'s. When none was accepted,
/// `out` stays invalid and the error is native::last_error(); a connection accepted but not made
/// so is closed and reported as `accept_failed`.
SocketError accept_socket(const Socket& listener, Socket& out) noexcept;

/// The TCP options of the dead-peer timeout, on a socket with SO_KEEPALIVE on: the keepalive idle
/// time and interval (whole seconds) and probe count, and TCP_USER_TIMEOUT (`timeout`) where the
/// OS has it. False when the OS refused one (the error is native::last_error()).
bool set_dead_peer_options(const Socket& s, int idle, int interval, int probes,
                           std::chrono::milliseconds timeout) noexcept;

/// Before a TCP listener binds: SO_REUSEADDR on POSIX, so a restarted server binds its port even
/// while old connections sit in TIME_WAIT. Nothing on Windows, where SO_REUSEADDR would let a second
/// listener take a port already bound. False when the OS refused it.
bool allow_quick_rebind(const Socket& s) noexcept;

/// After a filesystem UDS listener binds and before it listens (until then nobody can connect, so
/// no one slips in under a wider mode): gives its socket file `mode`. Nothing on Windows, which
/// guards a socket file with the directory's ACL. False when the OS refused it.
bool set_socket_file_mode(const char* path, std::uint32_t mode) noexcept;

/// What a UDS path names now.
enum class PathKind : std::uint8_t { absent, socket_file, other };
PathKind path_kind(const char* path) noexcept;

/// Which file `path` names now: {device, file number}, or nothing when that cannot be told.
std::optional<std::pair<std::uint64_t, std::uint64_t>> file_identity(const std::string& path) noexcept;

/// Removes the file `path` names, whatever it is.
void remove_file(const char* path) noexcept;

/// Who is at the other end of a connection that is not TCP (`peer_family`), from the socket's
/// credentials: `uds|uid=U|gid=G|pid=P` (without `pid` where the OS does not give it), or just
/// `uds` on Windows, which gives none. Empty when unknown.
std::string describe_uds_peer(const Socket& s, int peer_family);

/// The text of a nonzero OS error.
std::string error_text(int os_error);

/// The resolver's words for a nonzero getaddrinfo result (gai_strerror's, which on Windows is not
/// thread-safe: there the code is a Winsock error). Thread-safe.
std::string lookup_error_text(int code);

}  // namespace tofu::detail::os

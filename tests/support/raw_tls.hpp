// The TLS side of a raw test peer (RawPeer given a `tls` address): a blocking OpenSSL client over
// a connected socket, so hostile-peer tests can speak raw frames inside TLS. Test support only;
// built where tofu has TLS.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace tofu::test::raw_tls {

/// A TLS session over the connected blocking socket `fd`, trusting nothing (the peer's bytes are
/// what these tests are about); null with `error` when the handshake fails.
[[nodiscard]] void* connect(int fd, std::string& error);
/// As `send` and `recv` on a blocking socket: bytes moved, 0 at the end of the stream, negative
/// on failure with errno set (EAGAIN past the socket's timeout).
long send(void* session, const std::byte* data, std::size_t size);
long recv(void* session, std::byte* data, std::size_t size);
/// The record `send` would write for `data` (at most 16 KiB), made but not sent: a test sends its
/// bytes as it likes (half of them, say). Empty when OpenSSL cannot make it.
[[nodiscard]] std::vector<std::byte> seal(void* session, std::span<const std::byte> data);
/// The close_notify alert `SSL_shutdown` would write, made but not sent. Empty on failure.
[[nodiscard]] std::vector<std::byte> close_notify(void* session);
void close(void* session);

}  // namespace tofu::test::raw_tls

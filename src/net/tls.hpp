// What the engine needs of TLS (docs/security.md): a context per configuration (certificates,
// key, trusted CAs, checks) and a stream per connection, a second implementation of the
// byte-stream seam (net/byte_stream.hpp). Built with OpenSSL 3 when TOFU_TLS is on; without it
// (the mingw build) making a context fails with `not_implemented_yet`, and nothing else changes.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "net/byte_stream.hpp"

namespace tofu::detail {

/// True when this build has the tls transport.
[[nodiscard]] bool tls_available() noexcept;

/// One listener's or one connect's TLS settings: the engine's defaults, replaced by the reserved
/// headers (`~tls_cert`...) the WelcomeRequest or HelloRequest carries.
struct TlsSettings {
    TlsOptions options;
    std::string server_name;  ///< client: `~tls_server_name`, in place of the address's host
};

/// Why the `~tls_verify` or `~tls_min_version` header of `headers` is not one of its values, or
/// nullptr when neither is wrong (or there). `post` refuses a Hello or Welcome that has one.
[[nodiscard]] const char* tls_header_error(const TextHeaders& headers) noexcept;

/// `defaults` with the `~tls_*` headers of `headers` in their place (values `post` checked with
/// `tls_header_error`).
[[nodiscard]] TlsSettings read_tls_settings(const TlsOptions& defaults, const TextHeaders& headers);

/// Certificates, key and checks, loaded once and shared by the streams made from them.
class TlsContext;

/// The outcome of making a context: the context, or a status and OpenSSL's words.
struct TlsContextResult {
    std::shared_ptr<TlsContext> context;
    AmpeStatus status = AmpeStatus::success;
    std::string why;
};

/// Loads what `settings` name, for a listener (`server`) or a client. Reads files: a listener
/// once when it opens, a client once per distinct configuration.
[[nodiscard]] TlsContextResult make_tls_context(const TlsSettings& settings, bool server);

/// A stream for one connection made from `context`. A client sends `host` as SNI (unless it is an
/// IP address) and checks the server's certificate against it (an IP address against the IP SANs).
[[nodiscard]] std::unique_ptr<ByteStream> make_tls_stream(const std::shared_ptr<TlsContext>& context,
                                                          std::string_view host);

/// What OpenSSL holds for one connection (its state, a read buffer with read-ahead, a write
/// buffer): counted as this much, since OpenSSL does not say.
inline constexpr std::size_t tls_state_bytes = std::size_t{48} * 1024;
/// The most a TLS stream holds for its connection: OpenSSL's part, one record the socket did not
/// take (readiness backends), and on the completion backend the records of one `seal` (64 KiB of
/// plaintext, and up to as much not yet sent from the one before) and OpenSSL's own answers.
inline constexpr std::size_t max_tls_stream_bytes = std::size_t{208} * 1024;

}  // namespace tofu::detail

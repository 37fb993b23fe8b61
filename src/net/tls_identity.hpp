// What the engine tells the application of a TLS peer (the `~peer_subject`, `~peer_san`, `~tls`
// and `~tls_ktls` headers), and the escaping that keeps a certificate's names from breaking a
// header block.
#pragma once

#include <string>
#include <string_view>

#include <tofu/message.hpp>

using SSL = struct ssl_st;

namespace tofu::detail {

/// `value` escaped as RFC 4514 escapes an attribute value (`,` `+` `"` `\` `<` `>` `;` with a
/// backslash, a leading `#` or space and a trailing space too), and every control byte and DEL as
/// `\XX` (hex): never a raw CR or LF. A value `escaped_already` (OpenSSL's RFC 2253 printing) has
/// only its control bytes escaped.
[[nodiscard]] std::string escape_rfc4514(std::string_view value, bool escaped_already = false);

/// Appends the peer certificate's subject and names (when `verified`: nothing about a certificate
/// nobody checked), then the version and cipher, and whether kernel TLS is on, each leaving
/// `reserve` bytes of the block free. The subject must fit (false when it does not); the rest goes
/// in as far as it fits, the first name that does not cut to fit, those after it left out.
[[nodiscard]] bool append_tls_identity(SSL* ssl, TextHeaders& headers, bool verified,
                                       std::size_t reserve) noexcept;

}  // namespace tofu::detail

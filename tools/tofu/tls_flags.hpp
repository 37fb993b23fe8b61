// The --tls-cert, --tls-key and --tls-ca flags of listen, echo and send: the engine's TLS defaults.
#pragma once

#include <string>

#include <tofu/address.hpp>
#include <tofu/options.hpp>

namespace tofu::cli {

/// The files named on the command line; empty when not given.
struct TlsFlags {
    std::string cert;  ///< --tls-cert: this side's certificate chain (PEM)
    std::string key;   ///< --tls-key: its private key (PEM)
    std::string ca;    ///< --tls-ca: CA file or `openssl rehash`ed directory to trust
};

/// The engine options of a command given `flags` (they apply to tls:// channels only).
[[nodiscard]] Options engine_options(const TlsFlags& flags);

/// Throws a usage error when `address` is a tls:// listener and `flags` lack --tls-cert or
/// --tls-key. A build without TLS does not check: the engine's not_implemented_yet says more.
void check_listener_flags(const Address& address, const std::string& url, const TlsFlags& flags);

}  // namespace tofu::cli

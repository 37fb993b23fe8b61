// The --tls-cert, --tls-key and --tls-ca flags of listen, echo and send fill a `TlsOptions`
// (certificate_chain, private_key, ca): the engine's TLS defaults.
#pragma once

#include <string>

#include <tofu/address.hpp>
#include <tofu/options.hpp>

namespace tofu::cli {

/// The engine options of a command given the flags' `tls` (they apply to tls:// channels only).
[[nodiscard]] Options engine_options(const TlsOptions& tls);

/// Throws a usage error when `tls` holds a flag and `address` is not a tls:// one (the flag would
/// do nothing), or when `address` is a tls:// listener and `tls` lacks --tls-cert or --tls-key (a
/// build without TLS does not check that: the engine's not_implemented_yet says more).
void check_tls_flags(const Address& address, const std::string& url, const TlsOptions& tls);

}  // namespace tofu::cli

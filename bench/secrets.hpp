// The keys of the encrypted transport (`tls`), made when the benchmark starts: a throwaway CA and a
// server certificate it signed (ECDSA P-256; DNS:localhost, IP:127.0.0.1) for tofu and NNG, and
// CURVE key pairs for ZeroMQ. Nothing is checked in. The files live in a temporary directory that
// the side processes find through TOFU_BENCH_SECRETS (they inherit it) and that the process that
// made it removes when it exits.
#pragma once

#include <string>

namespace tofu::bench {

struct Secrets {
    std::string dir;                  ///< where the files are
    std::string ca;                   ///< PEM: the CA's certificate, trusted by clients
    std::string cert;                 ///< PEM: the server's certificate
    std::string key;                  ///< PEM: the server's private key
    std::string curve_server_public;  ///< Z85, 40 characters
    std::string curve_server_secret;
    std::string curve_client_public;
    std::string curve_client_secret;
};

/// This process's secrets: made at the first call, or read from TOFU_BENCH_SECRETS.
[[nodiscard]] const Secrets& secrets();

}  // namespace tofu::bench

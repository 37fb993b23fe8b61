// Certificates and keys for the TLS tests, made at test time (no private key is checked in): a CA,
// a server and a client it signed, and the bad cases (another CA's, an expired one, one for
// another host). ECDSA P-256, through pki/throwaway_pki.hpp. Written once per test process into a
// temporary directory, removed when the process exits.
#pragma once

#include <string>
#include <vector>

#include <tofu/options.hpp>

#include "pki/throwaway_pki.hpp"

namespace tofu::test {

/// A certificate file and its key file.
using CertFiles = pki::CertFiles;

struct TlsPki {
    std::string dir;       ///< where the files are
    std::string ca;        ///< the test CA's certificate (PEM)
    std::string other_ca;  ///< a CA that signed nothing here
    CertFiles server;      ///< CN=tofu test server; SANs DNS:localhost, IP:127.0.0.1, IP:::1
    CertFiles client;      ///< CN=tofu test client; SANs DNS:client.test, email:client@test
    CertFiles expired;     ///< like `server`, but its validity ended a day ago
    CertFiles wrong_host;  ///< like `server`, but for DNS:elsewhere.test only
    CertFiles untrusted;   ///< like `server`, but signed by `other_ca`
};

/// The process's test certificates (made at the first call).
[[nodiscard]] const TlsPki& test_pki();

/// A certificate of its own signed by the test CA (for servers and clients alike), written as
/// `<name>.crt` and `<name>.key` beside the others: `cn`, `san` and `dns_names` as
/// `pki::ThrowawayPki::issue_with_dns_names` takes them.
[[nodiscard]] CertFiles issue_test_certificate(const std::string& name, const std::string& cn,
                                               const std::string& san,
                                               const std::vector<std::string>& dns_names = {});

/// TLS options of a listener serving `test_pki().server`, and of a client trusting the test CA.
[[nodiscard]] TlsOptions tls_server_options();
[[nodiscard]] TlsOptions tls_client_options();

}  // namespace tofu::test

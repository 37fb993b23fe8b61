// Throwaway certificates for the demo's TLS scenario: a CA and a server certificate for the IP
// address 127.0.0.1 it signed (ECDSA P-256), made at demo start so that the demo needs nothing but
// the tool. Only built with TLS (TOFU_TLS).
#pragma once

#include <string>

namespace tofu::cli::demo {

/// The files of a fresh CA and server certificate in a private temporary directory, removed when
/// this dies.
class DemoPki {
public:
    /// Makes the keys and certificates; throws `std::runtime_error` when OpenSSL or the file
    /// system fails.
    DemoPki();
    ~DemoPki();
    DemoPki(const DemoPki&) = delete;
    DemoPki& operator=(const DemoPki&) = delete;
    DemoPki(DemoPki&&) = delete;
    DemoPki& operator=(DemoPki&&) = delete;

    [[nodiscard]] const std::string& ca() const noexcept { return ca_; }  ///< the CA's certificate
    [[nodiscard]] const std::string& server_cert() const noexcept { return server_cert_; }
    [[nodiscard]] const std::string& server_key() const noexcept { return server_key_; }

private:
    std::string dir_;
    std::string ca_;
    std::string server_cert_;
    std::string server_key_;
};

}  // namespace tofu::cli::demo

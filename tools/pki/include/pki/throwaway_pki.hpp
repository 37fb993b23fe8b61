// Throwaway X.509 certificates, made at run time so that no private key is checked in: CAs and the
// certificates they sign (ECDSA P-256, SHA-256), written as PEM files into a private temporary
// directory. Shared by the TLS tests, the `tofu demo` TLS run, the TLS listener fuzzer and
// tofu-bench. Internal: not part of tofu's library, and built only with TLS (TOFU_TLS).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace tofu::pki {

/// A certificate file and its private key file (PEM).
struct CertFiles {
    std::string cert;
    std::string key;
};

/// A private temporary directory (mode 0700) of throwaway certificates, removed when this dies
/// unless `keep()` was called. Every method throws `std::runtime_error` when OpenSSL or the file
/// system fails.
class ThrowawayPki {
public:
    /// Makes the directory, `<temp>/<prefix>-XXXXXX`. Every subject is `CN=<cn>`, with
    /// `O=<organization>` before it when that is not empty.
    explicit ThrowawayPki(const std::string& prefix, std::string organization = {});
    ~ThrowawayPki();
    ThrowawayPki(const ThrowawayPki&) = delete;
    ThrowawayPki& operator=(const ThrowawayPki&) = delete;
    ThrowawayPki(ThrowawayPki&&) = delete;
    ThrowawayPki& operator=(ThrowawayPki&&) = delete;

    /// The directory holding the files.
    [[nodiscard]] const std::string& dir() const noexcept;

    /// Makes a self-signed CA named `cn`, valid from a day ago for ten years; writes its
    /// certificate to `<name>.crt` and keeps its key in memory only. Returns the certificate's path.
    std::string add_ca(const std::string& name, const std::string& cn);

    /// Makes a key and a certificate for `cn` signed by the CA `ca_name` (an `add_ca` name), for
    /// both server and client authentication, with the subject alternative names `san` (OpenSSL's
    /// syntax: "DNS:localhost,IP:127.0.0.1"), valid from `not_before_days` to `not_after_days`
    /// (days from now). Writes `<name>.crt` and `<name>.key`; returns their paths.
    CertFiles issue(const std::string& name, const std::string& ca_name, const std::string& cn,
                    const std::string& san, long not_before_days = -1, long not_after_days = 365);

    /// As `issue` (valid for a year), with `dns_names` after the names of `san`, byte for byte:
    /// names OpenSSL's syntax cannot carry (line breaks, commas), for tests of what a hostile
    /// peer's certificate may say.
    CertFiles issue_with_dns_names(const std::string& name, const std::string& ca_name, const std::string& cn,
                                   const std::string& san, const std::vector<std::string>& dns_names);

    /// Leaves the directory on disk when this dies (for another process to use or remove).
    void keep() noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tofu::pki

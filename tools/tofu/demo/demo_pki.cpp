#include "demo/demo_pki.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>

namespace tofu::cli::demo {
namespace {

struct FreeKey {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct FreeCert {
    void operator()(X509* c) const noexcept { X509_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, FreeKey>;
using Cert = std::unique_ptr<X509, FreeCert>;

constexpr long day_seconds = 86400;

void check(bool ok, const char* what) {
    if (!ok) {
        throw std::runtime_error(std::string{"demo certificates: "} + what + " failed");
    }
}

Key new_key() {
    Key key{EVP_EC_gen("P-256")};
    check(key != nullptr, "EVP_EC_gen");
    return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    const bool added = ext != nullptr && X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    check(added, "X509_add_ext");
}

/// A certificate for `key` named `cn`, valid from a day ago (clock skew) for a day more, signed by
/// `issuer` (itself when null): a CA, or a server for `san`.
Cert make_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, const char* san) {
    Cert cert{X509_new()};
    check(cert != nullptr, "X509_new");
    std::mt19937_64 serials{std::random_device{}()};
    check(X509_set_version(cert.get(), 2) == 1 &&
              ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serials() >> 1U) == 1 &&
              X509_gmtime_adj(X509_getm_notBefore(cert.get()), -day_seconds) != nullptr &&
              X509_gmtime_adj(X509_getm_notAfter(cert.get()), day_seconds) != nullptr &&
              X509_set_pubkey(cert.get(), key) == 1,
          "X509 fields");
    X509_NAME* name = X509_get_subject_name(cert.get());
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL takes unsigned chars
    const auto* cn_bytes = reinterpret_cast<const unsigned char*>(cn);
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn_bytes, -1, -1, 0) == 1, "X509_NAME");
    check(X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name) == 1,
          "X509_set_issuer_name");
    X509* signer = issuer != nullptr ? issuer : cert.get();
    if (san == nullptr) {
        add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
        add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
        add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
        add_extension(cert.get(), signer, NID_subject_alt_name, san);
    }
    check(X509_sign(cert.get(), issuer_key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

void write_pem(const std::string& path, X509* cert, EVP_PKEY* key) {
    FILE* f = std::fopen(path.c_str(), "w");
    check(f != nullptr, "writing a PEM file");
    const bool written = cert != nullptr
                             ? PEM_write_X509(f, cert) == 1
                             : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    const bool closed = std::fclose(f) == 0;
    check(written && closed, "PEM_write");
}

}  // namespace

DemoPki::DemoPki() {
    namespace fs = std::filesystem;
    const fs::path dir =
        fs::temp_directory_path() / ("tofu-demo-pki-" + std::to_string(std::random_device{}()));
    if (!fs::create_directory(dir)) {
        throw std::runtime_error("demo certificates: " + dir.string() + " exists already");
    }
    dir_ = dir.string();
    try {
        // Only this user reads the private key.
        fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
        const Key ca_key = new_key();
        const Cert ca_cert = make_cert(ca_key.get(), "tofu demo CA", nullptr, ca_key.get(), nullptr);
        const Key server_key = new_key();
        // The workers connect to 127.0.0.1, so the certificate names it as an IP SAN.
        const Cert server_cert =
            make_cert(server_key.get(), "tofu demo spool", ca_cert.get(), ca_key.get(), "IP:127.0.0.1");
        ca_ = (dir / "ca.crt").string();
        server_cert_ = (dir / "server.crt").string();
        server_key_ = (dir / "server.key").string();
        write_pem(ca_, ca_cert.get(), nullptr);
        write_pem(server_cert_, server_cert.get(), nullptr);
        write_pem(server_key_, nullptr, server_key.get());
    } catch (...) {
        std::error_code ignored;
        fs::remove_all(dir, ignored);
        throw;
    }
}

DemoPki::~DemoPki() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

}  // namespace tofu::cli::demo

#include "support/tls_pki.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>

namespace tofu::test {
namespace {

struct FreeKey {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct FreeCert {
    void operator()(X509* c) const noexcept { X509_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, FreeKey>;
using Cert = std::unique_ptr<X509, FreeCert>;

void check(bool ok, const char* what) {
    if (!ok) {
        throw std::runtime_error(std::string{"test PKI: "} + what);
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
    check(ext != nullptr && X509_add_ext(cert, ext, -1) == 1, "extension");
    X509_EXTENSION_free(ext);
}

/// A certificate for `key`, named `cn`, signed by `issuer_key` (itself when `issuer` is null).
Cert make_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, const char* san, bool ca,
               long not_before_days, long not_after_days) {
    static std::mt19937_64 serials{std::random_device{}()};
    Cert cert{X509_new()};
    check(cert != nullptr, "X509_new");
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serials() >> 1U);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after_days * 86400);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL takes unsigned chars
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("tofu tests"),
                               -1, -1, 0);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1,
                               0);
    X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
    X509* signer = issuer != nullptr ? issuer : cert.get();
    if (ca) {
        add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
        add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
        add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
        add_extension(cert.get(), signer, NID_subject_alt_name, san);
    }
    check(X509_sign(cert.get(), issuer_key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

void write_pem(const std::string& path, X509* cert, EVP_PKEY* key) {
    FILE* f = std::fopen(path.c_str(), "w");
    check(f != nullptr, "cannot write a PEM file");
    const bool ok = cert != nullptr
                        ? PEM_write_X509(f, cert) == 1
                        : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    std::fclose(f);
    check(ok, "PEM_write");
}

struct Authority {
    Key key = new_key();
    Cert cert;
};

Authority make_ca(const char* cn) {
    Authority a;
    a.cert = make_cert(a.key.get(), cn, nullptr, a.key.get(), nullptr, true, -1, 3650);
    return a;
}

CertFiles issue(const std::string& dir, const std::string& name, const Authority& ca, const char* cn,
                const char* san, long not_before_days = -1, long not_after_days = 365) {
    const Key key = new_key();
    const Cert cert =
        make_cert(key.get(), cn, ca.cert.get(), ca.key.get(), san, false, not_before_days, not_after_days);
    CertFiles files{dir + "/" + name + ".crt", dir + "/" + name + ".key"};
    write_pem(files.cert, cert.get(), nullptr);
    write_pem(files.key, nullptr, key.get());
    return files;
}

TlsPki make_pki() {
    TlsPki pki;
    const auto base =
        std::filesystem::temp_directory_path() /
        ("tofu-pki-" + std::to_string(std::random_device{}()) + "-" + std::to_string(::getpid()));
    std::filesystem::create_directories(base);
    pki.dir = base.string();
    const Authority ca = make_ca("tofu test CA");
    const Authority other = make_ca("tofu other CA");
    pki.ca = pki.dir + "/ca.crt";
    pki.other_ca = pki.dir + "/other-ca.crt";
    write_pem(pki.ca, ca.cert.get(), nullptr);
    write_pem(pki.other_ca, other.cert.get(), nullptr);
    const char* server_names = "DNS:localhost,IP:127.0.0.1,IP:::1";
    pki.server = issue(pki.dir, "server", ca, "tofu test server", server_names);
    pki.client = issue(pki.dir, "client", ca, "tofu test client", "DNS:client.test,email:client@test");
    pki.expired = issue(pki.dir, "expired", ca, "tofu expired server", server_names, -30, -1);
    pki.wrong_host = issue(pki.dir, "wrong-host", ca, "tofu elsewhere", "DNS:elsewhere.test");
    pki.untrusted = issue(pki.dir, "untrusted", other, "tofu untrusted server", server_names);
    return pki;
}

}  // namespace

const TlsPki& test_pki() {
    static const TlsPki pki = make_pki();
    static const struct Remover {
        ~Remover() {
            std::error_code ec;
            std::filesystem::remove_all(pki.dir, ec);
        }
    } remover;
    return pki;
}

TlsOptions tls_server_options() {
    const TlsPki& pki = test_pki();
    return TlsOptions{.certificate_chain = pki.server.cert, .private_key = pki.server.key};
}

TlsOptions tls_client_options() {
    return TlsOptions{.ca = test_pki().ca};
}

}  // namespace tofu::test

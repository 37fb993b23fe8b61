#include "secrets.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>
#include <zmq.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

namespace tofu::bench {
namespace {

constexpr const char* env_name = "TOFU_BENCH_SECRETS";
std::string made_dir;  // NOLINT: the directory this process made (and removes at exit), if any

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
        throw std::runtime_error(std::string{"bench secrets: "} + what);
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

/// A certificate for `key` named `cn`, signed by `issuer_key` (self-signed, a CA, when `issuer` is
/// null), valid from yesterday for a year.
Cert make_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key) {
    Cert cert{X509_new()};
    check(cert != nullptr, "X509_new");
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), std::random_device{}());
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -86400);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 86400);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL takes unsigned chars
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1,
                               0);
    X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
    X509* signer = issuer != nullptr ? issuer : cert.get();
    if (issuer == nullptr) {
        add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
        add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
        add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
        // DNS:localhost too: NNG's mbedTLS 2.28 matches DNS names only, not IP SANs.
        add_extension(cert.get(), signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
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

std::pair<std::string, std::string> curve_pair() {
    std::array<char, 41> pub{};
    std::array<char, 41> sec{};
    check(zmq_curve_keypair(pub.data(), sec.data()) == 0, "zmq_curve_keypair (libzmq without CURVE?)");
    return {pub.data(), sec.data()};
}

std::string read_line(const std::string& path) {
    std::ifstream in{path};
    std::string line;
    check(static_cast<bool>(std::getline(in, line)), "cannot read a CURVE key file");
    return line;
}

/// The certificate files' names in `dir`.
Secrets layout(const std::string& dir) {
    Secrets s;
    s.dir = dir;
    s.ca = dir + "/ca.crt";
    s.cert = dir + "/server.crt";
    s.key = dir + "/server.key";
    return s;
}

Secrets make() {
    if (const char* dir = std::getenv(env_name); dir != nullptr && *dir != '\0') {
        Secrets s = layout(dir);
        s.curve_server_public = read_line(s.dir + "/curve-server.pub");
        s.curve_server_secret = read_line(s.dir + "/curve-server.key");
        s.curve_client_public = read_line(s.dir + "/curve-client.pub");
        s.curve_client_secret = read_line(s.dir + "/curve-client.key");
        return s;
    }
    const auto base =
        std::filesystem::temp_directory_path() /
        ("tofu-bench-keys-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(base);
    std::filesystem::permissions(base, std::filesystem::perms::owner_all);
    Secrets s = layout(base.string());
    const Key ca_key = new_key();
    const Cert ca = make_cert(ca_key.get(), "tofu-bench CA", nullptr, ca_key.get());
    const Key server_key = new_key();
    const Cert server = make_cert(server_key.get(), "tofu-bench server", ca.get(), ca_key.get());
    write_pem(s.ca, ca.get(), nullptr);
    write_pem(s.cert, server.get(), nullptr);
    write_pem(s.key, nullptr, server_key.get());
    std::tie(s.curve_server_public, s.curve_server_secret) = curve_pair();
    std::tie(s.curve_client_public, s.curve_client_secret) = curve_pair();
    std::ofstream{s.dir + "/curve-server.pub"} << s.curve_server_public << '\n';
    std::ofstream{s.dir + "/curve-server.key"} << s.curve_server_secret << '\n';
    std::ofstream{s.dir + "/curve-client.pub"} << s.curve_client_public << '\n';
    std::ofstream{s.dir + "/curve-client.key"} << s.curve_client_secret << '\n';
    ::setenv(env_name, s.dir.c_str(), 1);  // the side processes use the same keys
    made_dir = s.dir;
    return s;
}

}  // namespace

const Secrets& secrets() {
    static const Secrets s = make();
    // Only the maker removes the directory: a side process found it through the environment.
    static const struct Remover {
        Remover(const Remover&) = delete;
        Remover& operator=(const Remover&) = delete;
        Remover(Remover&&) = delete;
        Remover& operator=(Remover&&) = delete;
        Remover() = default;
        ~Remover() {
            if (!made_dir.empty()) {
                std::error_code ec;
                std::filesystem::remove_all(made_dir, ec);
            }
        }
    } remover;
    return s;
}

}  // namespace tofu::bench

#include "pki/throwaway_pki.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace tofu::pki {

// Outside the anonymous namespace: ThrowawayPki::Impl holds them.
struct FreeKey {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct FreeCert {
    void operator()(X509* c) const noexcept { X509_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, FreeKey>;
using Cert = std::unique_ptr<X509, FreeCert>;

/// A CA: its key and certificate.
struct Authority {
    Key key;
    Cert cert;
};

namespace {

constexpr long day_seconds = 86400;
constexpr long ca_days = 3650;

void check(bool ok, const std::string& what) {
    if (!ok) {
        throw std::runtime_error("throwaway PKI: " + what + " failed");
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
    check(added, std::string{"adding the extension "} + value);
}

struct FreeText {
    void operator()(ASN1_IA5STRING* t) const noexcept { ASN1_IA5STRING_free(t); }
};
struct FreeName {
    void operator()(GENERAL_NAME* n) const noexcept { GENERAL_NAME_free(n); }
};
struct FreeNames {
    void operator()(GENERAL_NAMES* n) const noexcept { GENERAL_NAMES_free(n); }
};
struct FreeConfValues {
    void operator()(STACK_OF(CONF_VALUE) * v) const noexcept { sk_CONF_VALUE_pop_free(v, X509V3_conf_free); }
};

/// The subject alternative names `san` (OpenSSL's syntax) followed by `raw_dns`, byte for byte.
void add_alt_names(X509* cert, X509* issuer, const char* san, const std::vector<std::string>& raw_dns) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    const std::unique_ptr<STACK_OF(CONF_VALUE), FreeConfValues> values{X509V3_parse_list(san)};
    check(values != nullptr, std::string{"parsing the names "} + san);
    const std::unique_ptr<GENERAL_NAMES, FreeNames> names{v2i_GENERAL_NAMES(nullptr, &ctx, values.get())};
    check(names != nullptr, std::string{"reading the names "} + san);
    for (const std::string& dns : raw_dns) {
        std::unique_ptr<ASN1_IA5STRING, FreeText> text{ASN1_IA5STRING_new()};
        check(text != nullptr && ASN1_STRING_set(text.get(), dns.data(), static_cast<int>(dns.size())) == 1,
              "making the name " + dns);
        std::unique_ptr<GENERAL_NAME, FreeName> name{GENERAL_NAME_new()};
        check(name != nullptr, "GENERAL_NAME_new");
        GENERAL_NAME_set0_value(name.get(), GEN_DNS, text.release());
        check(sk_GENERAL_NAME_push(names.get(), name.get()) > 0, "adding the name " + dns);
        (void)name.release();  // the list holds it now
    }
    check(X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) == 1,
          "adding the subject alternative names");
}

void add_name_entry(X509_NAME* name, const char* field, const std::string& value) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL takes unsigned chars
    const auto* bytes = reinterpret_cast<const unsigned char*>(value.c_str());
    check(X509_NAME_add_entry_by_txt(name, field, MBSTRING_ASC, bytes, -1, -1, 0) == 1,
          std::string{"adding "} + field + "=" + value);
}

/// What a certificate says, apart from its key and issuer.
struct Profile {
    const std::string* organization;
    const std::string* cn;
    const char* san;  ///< null for a CA
    long not_before_days;
    long not_after_days;
    const std::vector<std::string>* raw_dns = nullptr;  ///< more names, byte for byte
};

/// A certificate for `key` signed by `issuer_key` (self-signed when `issuer` is null).
Cert make_cert(EVP_PKEY* key, const Profile& p, X509* issuer, EVP_PKEY* issuer_key, std::uint64_t serial) {
    Cert cert{X509_new()};
    check(cert != nullptr, "X509_new");
    check(X509_set_version(cert.get(), 2) == 1 &&
              ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial) == 1 &&
              X509_gmtime_adj(X509_getm_notBefore(cert.get()), p.not_before_days * day_seconds) != nullptr &&
              X509_gmtime_adj(X509_getm_notAfter(cert.get()), p.not_after_days * day_seconds) != nullptr &&
              X509_set_pubkey(cert.get(), key) == 1,
          "setting the X509 fields");
    X509_NAME* name = X509_get_subject_name(cert.get());
    if (!p.organization->empty()) {
        add_name_entry(name, "O", *p.organization);
    }
    add_name_entry(name, "CN", *p.cn);
    check(X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name) == 1,
          "X509_set_issuer_name");
    X509* signer = issuer != nullptr ? issuer : cert.get();
    if (p.san == nullptr) {
        add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
        add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
        add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
        if (p.raw_dns == nullptr) {
            add_extension(cert.get(), signer, NID_subject_alt_name, p.san);
        } else {
            add_alt_names(cert.get(), signer, p.san, *p.raw_dns);
        }
    }
    check(X509_sign(cert.get(), issuer_key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

/// Writes `cert`, or else `key`, to `path`.
void write_pem(const std::string& path, X509* cert, EVP_PKEY* key) {
    FILE* f = std::fopen(path.c_str(), "w");
    check(f != nullptr, "opening " + path);
    const bool written = cert != nullptr
                             ? PEM_write_X509(f, cert) == 1
                             : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    const bool closed = std::fclose(f) == 0;
    check(written && closed, "writing " + path);
}

}  // namespace

struct ThrowawayPki::Impl {
    std::string dir;
    std::string organization;
    std::map<std::string, Authority, std::less<>> cas;
    std::mt19937_64 serials{std::random_device{}()};
    bool keep = false;

    /// A positive serial number (the top bit clear: DER integers are signed).
    std::uint64_t next_serial() { return serials() >> 1U; }
    [[nodiscard]] std::string path(const std::string& name, const char* ext) const {
        return dir + "/" + name + ext;
    }
    /// Writes `<name>.crt` and `<name>.key`.
    [[nodiscard]] CertFiles write_issued(const std::string& name, const Key& key, const Cert& cert) const {
        CertFiles files{path(name, ".crt"), path(name, ".key")};
        write_pem(files.cert, cert.get(), nullptr);
        write_pem(files.key, nullptr, key.get());
        return files;
    }
};

ThrowawayPki::ThrowawayPki(const std::string& prefix, std::string organization)
    : impl_{std::make_unique<Impl>()} {
    impl_->organization = std::move(organization);
    const std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    // mkdtemp makes the directory with mode 0700 under a name no one else holds: only this user
    // reads the private keys.
    check(::mkdtemp(buffer.data()) != nullptr, "making a temporary directory like " + pattern);
    impl_->dir = buffer.data();
}

ThrowawayPki::~ThrowawayPki() {
    if (!impl_->keep) {
        std::error_code ignored;
        std::filesystem::remove_all(impl_->dir, ignored);
    }
}

const std::string& ThrowawayPki::dir() const noexcept {
    return impl_->dir;
}

std::string ThrowawayPki::add_ca(const std::string& name, const std::string& cn) {
    Authority ca{new_key(), nullptr};
    const Profile profile{&impl_->organization, &cn, nullptr, -1, ca_days};
    ca.cert = make_cert(ca.key.get(), profile, nullptr, ca.key.get(), impl_->next_serial());
    std::string cert_path = impl_->path(name, ".crt");
    write_pem(cert_path, ca.cert.get(), nullptr);
    impl_->cas.insert_or_assign(name, std::move(ca));
    return cert_path;
}

CertFiles ThrowawayPki::issue(const std::string& name, const std::string& ca_name, const std::string& cn,
                              const std::string& san, long not_before_days, long not_after_days) {
    const auto ca = impl_->cas.find(ca_name);
    check(ca != impl_->cas.end(), "finding the CA " + ca_name + " (add_ca first)");
    const Key key = new_key();
    const Profile profile{&impl_->organization, &cn, san.c_str(), not_before_days, not_after_days};
    return impl_->write_issued(
        name, key,
        make_cert(key.get(), profile, ca->second.cert.get(), ca->second.key.get(), impl_->next_serial()));
}

CertFiles ThrowawayPki::issue_with_dns_names(const std::string& name, const std::string& ca_name,
                                             const std::string& cn, const std::string& san,
                                             const std::vector<std::string>& dns_names) {
    const auto ca = impl_->cas.find(ca_name);
    check(ca != impl_->cas.end(), "finding the CA " + ca_name + " (add_ca first)");
    const Key key = new_key();
    const Profile profile{&impl_->organization, &cn, san.c_str(), -1, 365, &dns_names};
    return impl_->write_issued(
        name, key,
        make_cert(key.get(), profile, ca->second.cert.get(), ca->second.key.get(), impl_->next_serial()));
}

void ThrowawayPki::keep() noexcept {
    impl_->keep = true;
}

}  // namespace tofu::pki

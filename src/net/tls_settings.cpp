// A listener's or a connect's TLS settings: the engine's defaults and the request's `~tls_*`
// headers. The same with or without OpenSSL, so a bad header is refused the same way everywhere
// (by `post`, which checks the values before the engine reads them).
#include <optional>
#include <string>
#include <string_view>

#include "net/tls.hpp"

namespace tofu::detail {

namespace {

std::optional<TlsVerify> verify_named(std::string_view v) noexcept {
    if (v == "peer") {
        return TlsVerify::peer;
    }
    if (v == "none") {
        return TlsVerify::none;
    }
    return std::nullopt;
}

std::optional<TlsVersion> version_named(std::string_view v) noexcept {
    if (v == "1.2") {
        return TlsVersion::tls1_2;
    }
    if (v == "1.3") {
        return TlsVersion::tls1_3;
    }
    return std::nullopt;
}

}  // namespace

const char* tls_header_error(const TextHeaders& headers) noexcept {
    if (const auto v = headers.find(header::tls_verify); v && !verify_named(*v)) {
        return "~tls_verify must be peer or none";
    }
    if (const auto v = headers.find(header::tls_min_version); v && !version_named(*v)) {
        return "~tls_min_version must be 1.2 or 1.3";
    }
    return nullptr;
}

TlsSettings read_tls_settings(const TlsOptions& defaults, const TextHeaders& headers) {
    TlsSettings out{defaults, {}};
    TlsOptions& o = out.options;
    if (const auto v = headers.find(header::tls_cert)) {
        o.certificate_chain = *v;
    }
    if (const auto v = headers.find(header::tls_key)) {
        o.private_key = *v;
    }
    if (const auto v = headers.find(header::tls_ca)) {
        o.ca = *v;
    }
    if (const auto v = headers.find(header::tls_verify)) {
        o.verify = verify_named(*v).value_or(o.verify);  // `post` refused any other value
    }
    if (const auto v = headers.find(header::tls_min_version)) {
        o.min_version = version_named(*v).value_or(o.min_version);
    }
    if (const auto v = headers.find(header::tls_server_name)) {
        out.server_name = *v;
    }
    return out;
}

}  // namespace tofu::detail

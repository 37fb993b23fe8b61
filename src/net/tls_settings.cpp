// A listener's or a connect's TLS settings: the engine's defaults and the request's `~tls_*`
// headers. The same with or without OpenSSL, so a bad header is refused the same way everywhere.
#include <string>

#include "net/tls.hpp"

namespace tofu::detail {

bool read_tls_settings(const TlsOptions& defaults, const TextHeaders& headers, TlsSettings& out,
                       std::string& why) {
    out = TlsSettings{defaults, {}};
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
        if (*v == "peer") {
            o.verify = TlsVerify::peer;
        } else if (*v == "none") {
            o.verify = TlsVerify::none;
        } else {
            why = "~tls_verify must be peer or none";
            return false;
        }
    }
    if (const auto v = headers.find(header::tls_min_version)) {
        if (*v == "1.2") {
            o.min_version = TlsVersion::tls1_2;
        } else if (*v == "1.3") {
            o.min_version = TlsVersion::tls1_3;
        } else {
            why = "~tls_min_version must be 1.2 or 1.3";
            return false;
        }
    }
    if (const auto v = headers.find(header::tls_server_name)) {
        out.server_name = *v;
    }
    return true;
}

}  // namespace tofu::detail

#include "net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "net/socket.hpp"
#include "net/tls_stream.hpp"

namespace tofu::detail {
namespace {

/// OpenSSL's words for what just failed (its error queue is emptied).
std::string openssl_error(std::string_view what) {
    std::string why{what};
    const unsigned long e = ERR_peek_last_error();
    if (e != 0) {
        const char* reason = ERR_reason_error_string(e);
        why += ": ";
        why += reason != nullptr ? reason : "error " + std::to_string(ERR_GET_REASON(e));
    }
    ERR_clear_error();
    return why;
}

struct FreeCtx {
    void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};

/// A file OpenSSL is to read: the OS's words when it cannot be opened (OpenSSL's would be
/// "system lib"), else nothing.
std::string unreadable(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) {
        return path + ": " + os_error_text(errno);
    }
    std::fclose(f);
    return {};
}

TlsContextResult failed(bool server, std::string why) {
    return {nullptr, server ? AmpeStatus::listen_failed : AmpeStatus::connect_failed, std::move(why)};
}

/// Loads the certificates to trust from `ca`, a PEM file or a hashed directory.
bool load_trusted(SSL_CTX* ctx, const std::string& ca) {
    std::error_code ec;
    const bool directory = std::filesystem::is_directory(ca, ec);
    return SSL_CTX_load_verify_locations(ctx, directory ? nullptr : ca.c_str(),
                                         directory ? ca.c_str() : nullptr) == 1;
}

}  // namespace

TlsContext::~TlsContext() {
    SSL_CTX_free(ctx_);
}

bool tls_available() noexcept {
    return true;
}

TlsContextResult make_tls_context(const TlsSettings& settings, bool server) {
    const TlsOptions& o = settings.options;
    ERR_clear_error();
    std::unique_ptr<SSL_CTX, FreeCtx> ctx{SSL_CTX_new(server ? TLS_server_method() : TLS_client_method())};
    if (ctx == nullptr) {
        return failed(server, openssl_error("TLS: cannot make a context"));
    }
    SSL_CTX* c = ctx.get();
    (void)SSL_CTX_set_min_proto_version(
        c, o.min_version == TlsVersion::tls1_2 ? TLS1_2_VERSION : TLS1_3_VERSION);
    // No renegotiation (a peer could make the engine work at will), no compression (CRIME), no
    // session tickets or cache (nothing to resume: tofu connections are long-lived). A peer that
    // ends the connection without close_notify ends the stream as TCP would: the frames tell
    // whether anything was cut.
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                               SSL_OP_NO_TICKET | (o.kernel_tls ? SSL_OP_ENABLE_KTLS : 0));
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    (void)SSL_CTX_set_num_tickets(c, 0);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_read_ahead(c, 1);  // many records per recv
    // TLS 1.3's three suites, AES-128-GCM first (OpenSSL's default puts AES-256 first): a big
    // message costs each end about 15 % less AES work, the largest part of what TLS adds to it
    // (docs/performance.md). A peer that offers only the others still gets them.
    (void)SSL_CTX_set_ciphersuites(
        c, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");

    if (server && (o.certificate_chain.empty() || o.private_key.empty())) {
        return failed(server,
                      "TLS: a tls listener needs a certificate chain and its private key "
                      "(Options::tls, or ~tls_cert and ~tls_key on its WelcomeRequest)");
    }
    if (!o.certificate_chain.empty() || !o.private_key.empty()) {
        for (const std::string* file : {&o.certificate_chain, &o.private_key}) {
            if (std::string why = unreadable(*file); !why.empty()) {
                return failed(server, "TLS: cannot read " + why);
            }
        }
        if (SSL_CTX_use_certificate_chain_file(c, o.certificate_chain.c_str()) != 1) {
            return failed(server,
                          openssl_error("TLS: cannot use the certificate chain " + o.certificate_chain));
        }
        if (SSL_CTX_use_PrivateKey_file(c, o.private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
            return failed(server, openssl_error("TLS: cannot use the private key " + o.private_key));
        }
        if (SSL_CTX_check_private_key(c) != 1) {
            return failed(server, openssl_error("TLS: the private key does not match the certificate"));
        }
    }
    const bool verify = o.verify == TlsVerify::peer;
    std::error_code ec;
    if (verify && !o.ca.empty() && !std::filesystem::exists(o.ca, ec)) {
        return failed(server, "TLS: cannot read the CA certificates " + o.ca + ": no such file or directory");
    }
    if (verify && !o.ca.empty() && !load_trusted(c, o.ca)) {
        return failed(server, openssl_error("TLS: cannot load the CA certificates " + o.ca));
    }
    if (server) {
        // Given a CA, a listener requires a client certificate it can verify (mutual TLS).
        if (verify && !o.ca.empty()) {
            SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
        } else {
            SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
        }
    } else if (verify) {
        if (o.ca.empty() && SSL_CTX_set_default_verify_paths(c) != 1) {
            return failed(server, openssl_error("TLS: cannot load the system's CA store"));
        }
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    } else {
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    }
    ERR_clear_error();
    return {std::make_shared<TlsContext>(ctx.release(), server, o), AmpeStatus::success, {}};
}

std::unique_ptr<ByteStream> make_tls_stream(const std::shared_ptr<TlsContext>& context,
                                            std::string_view host) {
    SSL* ssl = SSL_new(context->get());
    if (ssl == nullptr) {
        ERR_clear_error();
        return nullptr;
    }
    auto stream = std::make_unique<TlsStream>(context, ssl, context->server(), context->kernel_tls());
    if (context->server()) {
        SSL_set_accept_state(ssl);
        return stream;
    }
    SSL_set_connect_state(ssl);
    const std::string name{host};
    const bool ip = is_ip_literal(name);
    if (!ip) {
        (void)SSL_set_tlsext_host_name(ssl, name.c_str());  // SNI: never for an IP address
    }
    if (context->verifies()) {
        // The certificate must name the host: a DNS name, or an IP address among its IP SANs.
        const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str())
                          : SSL_set1_host(ssl, name.c_str());
        if (ok != 1) {
            ERR_clear_error();
            return nullptr;
        }
    }
    return stream;
}

}  // namespace tofu::detail

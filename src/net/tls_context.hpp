// An OpenSSL context: one listener's, or the clients' of one configuration. It owns the SSL_CTX
// (certificates, key, trusted CAs, version, checks), which its streams share.
#pragma once

#include "net/tls.hpp"

using SSL_CTX = struct ssl_ctx_st;

namespace tofu::detail {

class TlsContext {
public:
    TlsContext(SSL_CTX* ctx, bool server, const TlsOptions& options) noexcept
        : ctx_{ctx},
          server_{server},
          verify_{options.verify == TlsVerify::peer},
          kernel_tls_{options.kernel_tls} {}
    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;
    TlsContext(TlsContext&&) = delete;
    TlsContext& operator=(TlsContext&&) = delete;

    [[nodiscard]] SSL_CTX* get() const noexcept { return ctx_; }
    [[nodiscard]] bool server() const noexcept { return server_; }
    /// A client checks the server's certificate and name.
    [[nodiscard]] bool verifies() const noexcept { return verify_; }
    [[nodiscard]] bool kernel_tls() const noexcept { return kernel_tls_; }

private:
    SSL_CTX* ctx_;
    bool server_;
    bool verify_;
    bool kernel_tls_;
};

}  // namespace tofu::detail

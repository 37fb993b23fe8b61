#include "support/raw_tls.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <climits>
#include <span>
#include <string>
#include <vector>

namespace tofu::test::raw_tls {
namespace {

SSL_CTX* client_context() {
    static SSL_CTX* const ctx = [] {
        SSL_CTX* c = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
        SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        return c;
    }();
    return ctx;
}

/// What a failed call means, as errno: a timeout stays EAGAIN, anything else reads as a reset.
long failed(SSL* ssl, int rc) {
    const int e = SSL_get_error(ssl, rc);
    ERR_clear_error();
    if (e == SSL_ERROR_ZERO_RETURN) {
        return 0;
    }
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE && !(e == SSL_ERROR_SYSCALL && errno != 0)) {
        errno = ECONNRESET;
    }
    return -1;
}

/// `SSL_connect` on a blocking socket, again when a signal cut a system call short (not the peer).
bool handshake(SSL* ssl) {
    for (int interrupted = 0; interrupted < 100; ++interrupted) {
        errno = 0;
        const int rc = SSL_connect(ssl);
        if (rc == 1) {
            return true;
        }
        const int e = SSL_get_error(ssl, rc);
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || errno != EINTR) {
            return false;
        }
        ERR_clear_error();
    }
    return false;
}

/// The bytes OpenSSL writes while `write` runs, caught in memory instead of going to the socket.
template <typename Write>
std::vector<std::byte> caught(SSL* ssl, const Write& write) {
    BIO* memory = BIO_new(BIO_s_mem());
    BIO* socket = SSL_get_rbio(ssl);
    if (memory == nullptr || BIO_up_ref(socket) != 1) {
        BIO_free(memory);
        return {};
    }
    SSL_set0_wbio(ssl, memory);
    std::vector<std::byte> bytes;
    if (write()) {
        char* data = nullptr;
        const long size = BIO_get_mem_data(memory, &data);
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL's bytes are chars
        const auto* first = reinterpret_cast<const std::byte*>(data);
        bytes.assign(first, first + size);
    }
    ERR_clear_error();
    SSL_set0_wbio(ssl, socket);  // frees the memory BIO
    return bytes;
}

}  // namespace

void* connect(int fd, std::string& error) {
    SSL* ssl = SSL_new(client_context());
    if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1 || !handshake(ssl)) {
        const int saved_errno = errno;
        error = "raw TLS peer: the handshake failed";
        if (const char* reason = ERR_reason_error_string(ERR_peek_error()); reason != nullptr) {
            error += std::string{": "} + reason;
        } else if (saved_errno != 0) {
            error += ": errno " + std::to_string(saved_errno);
        }
        ERR_clear_error();
        SSL_free(ssl);
        return nullptr;
    }
    return ssl;
}

long send(void* session, const std::byte* data, std::size_t size) {
    auto* ssl = static_cast<SSL*>(session);
    std::size_t n = 0;
    const int rc = SSL_write_ex(ssl, data, size, &n);
    return rc == 1 ? static_cast<long>(n) : failed(ssl, rc);
}

long recv(void* session, std::byte* data, std::size_t size) {
    auto* ssl = static_cast<SSL*>(session);
    std::size_t n = 0;
    const int rc = SSL_read_ex(ssl, data, size, &n);
    return rc == 1 ? static_cast<long>(n) : failed(ssl, rc);
}

std::vector<std::byte> seal(void* session, std::span<const std::byte> data) {
    auto* ssl = static_cast<SSL*>(session);
    return caught(ssl, [&] {
        std::size_t n = 0;
        return SSL_write_ex(ssl, data.data(), data.size(), &n) == 1 && n == data.size();
    });
}

std::vector<std::byte> close_notify(void* session) {
    auto* ssl = static_cast<SSL*>(session);
    return caught(ssl, [&] { return SSL_shutdown(ssl) >= 0; });
}

void close(void* session) {
    SSL_free(static_cast<SSL*>(session));  // no close_notify: a raw peer leaves as it likes
}

}  // namespace tofu::test::raw_tls

// A build without TLS (TOFU_TLS off, as on mingw, where Debian has no OpenSSL): a `tls` address is
// refused with `not_implemented_yet`, and that is all.
#include "net/tls.hpp"

namespace tofu::detail {

class TlsContext {};

bool tls_available() noexcept {
    return false;
}

TlsContextResult make_tls_context(const TlsSettings& /*settings*/, bool /*server*/) {
    return {nullptr, AmpeStatus::not_implemented_yet,
            "TLS: this build of tofu has no tls transport (built without OpenSSL 3: TOFU_TLS=OFF)"};
}

std::unique_ptr<ByteStream> make_tls_stream(const std::shared_ptr<TlsContext>& /*context*/,
                                            std::string_view /*host*/) {
    return nullptr;
}

}  // namespace tofu::detail

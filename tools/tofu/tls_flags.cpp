#include "tls_flags.hpp"

#include <string>
#include <variant>

#include <tofu/address.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "errors.hpp"

namespace tofu::cli {

Options engine_options(const TlsOptions& tls) {
    Options options{};
    options.tls = tls;
    return options;
}

void check_tls_flags(const Address& address, const std::string& url, const TlsOptions& tls) {
    const bool is_tls = std::holds_alternative<TlsServerAddress>(address) ||
                        std::holds_alternative<TlsClientAddress>(address);
    if (!is_tls && tls != TlsOptions{}) {
        throw usage_error(AmpeStatus::invalid_address, url,
                          "--tls-cert, --tls-key and --tls-ca are for tls:// addresses only");
    }
#if defined(TOFU_CLI_TLS)
    if (std::holds_alternative<TlsServerAddress>(address) &&
        (tls.certificate_chain.empty() || tls.private_key.empty())) {
        throw usage_error(AmpeStatus::listen_failed, url,
                          "a tls:// listener needs --tls-cert FILE and --tls-key FILE");
    }
#endif
}

}  // namespace tofu::cli

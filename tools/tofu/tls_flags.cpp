#include "tls_flags.hpp"

#include <string>
#include <variant>

#include <tofu/address.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "errors.hpp"

namespace tofu::cli {

Options engine_options(const TlsFlags& flags) {
    Options options{};
    options.tls.certificate_chain = flags.cert;
    options.tls.private_key = flags.key;
    options.tls.ca = flags.ca;
    return options;
}

void check_listener_flags(const Address& address, const std::string& url, const TlsFlags& flags) {
#if defined(TOFU_CLI_TLS)
    if (std::holds_alternative<TlsServerAddress>(address) && (flags.cert.empty() || flags.key.empty())) {
        throw usage_error(AmpeStatus::listen_failed, url,
                          "a tls:// listener needs --tls-cert FILE and --tls-key FILE");
    }
#else
    static_cast<void>(address);
    static_cast<void>(url);
    static_cast<void>(flags);
#endif
}

}  // namespace tofu::cli

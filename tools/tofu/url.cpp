#include "url.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include <tofu/address.hpp>
#include <tofu/status.hpp>

#include "errors.hpp"

namespace tofu::cli {
namespace {

constexpr std::string_view tcp_prefix = "tcp://";
constexpr std::string_view tls_prefix = "tls://";
constexpr std::string_view uds_prefix = "uds://";

ParsedUrl failure(std::string_view reason) {
    return ParsedUrl{AmpeStatus::invalid_address, {}, std::string{reason}};
}

/// Lets tofu judge the address value, so the tool accepts exactly what the library accepts.
ParsedUrl checked_by_tofu(const std::string& value, AddressRole role) {
    ParsedAddress parsed = parse_address(value, role);
    if (!parsed) {
        return failure(parsed.reason);
    }
    return ParsedUrl{AmpeStatus::success, std::move(parsed.address), {}};
}

bool all_digits(std::string_view text) {
    return !text.empty() && std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; });
}

/// `HOST:PORT` (IPv6 in brackets) of a tcp:// or tls:// URL; `scheme` is "tcp" or "tls".
ParsedUrl parse_host_port(std::string_view scheme, std::string_view rest, AddressRole role) {
    std::string_view host;
    std::string_view port;
    if (rest.starts_with('[')) {
        const std::size_t close = rest.find(']');
        if (close == std::string_view::npos) {
            return failure("missing ] after the IPv6 address");
        }
        host = rest.substr(1, close - 1);
        const std::string_view after = rest.substr(close + 1);
        if (!after.starts_with(':')) {
            return failure("expected :PORT after ]");
        }
        port = after.substr(1);
    } else {
        const std::size_t colon = rest.rfind(':');
        if (colon == std::string_view::npos) {
            return failure("missing :PORT");
        }
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            return failure(
                std::string{"an IPv6 address needs brackets: "}.append(scheme).append("://[::1]:PORT"));
        }
    }
    if (host.find('|') != std::string_view::npos) {
        return failure("host holds '|'");
    }
    if (!port.empty() && !all_digits(port)) {
        return failure("port is not a number in 0..65535");
    }
    // tofu reports an empty host or port, a port out of range, and port 0 for a client.
    std::string value{scheme};
    value.append("|").append(host).append("|").append(port);
    return checked_by_tofu(value, role);
}

/// An absolute path of this OS: `/...`, and on Windows also a drive's, `C:\...` or `C:/...`.
bool is_absolute_path(std::string_view path) noexcept {
#if defined(_WIN32)
    const bool drive = path.size() >= 3 && std::isalpha(static_cast<unsigned char>(path[0])) != 0 &&
                       path[1] == ':' && (path[2] == '\\' || path[2] == '/');
    if (drive) {
        return true;
    }
#endif
    return !path.empty() && path.front() == '/';
}

ParsedUrl parse_uds(std::string_view path, AddressRole role) {
    if (path.empty()) {
        return failure("empty uds path");
    }
    if (!is_absolute_path(path) && path.front() != '@') {
#if defined(_WIN32)
        return failure("expected uds://C:\\absolute\\path, uds:///absolute/path or uds://@name");
#else
        return failure("expected uds:///absolute/path or uds://@name");
#endif
    }
    // tofu reports a path too long for sockaddr_un and @name where there is no abstract namespace.
    std::string value{"uds|"};
    value.append(path);
    return checked_by_tofu(value, role);
}

}  // namespace

ParsedUrl parse_url(std::string_view url, AddressRole role) {
    if (std::ranges::any_of(url, [](char c) { return static_cast<unsigned char>(c) <= ' '; })) {
        return failure("holds a space or control character");
    }
    if (url.starts_with(tcp_prefix)) {
        return parse_host_port("tcp", url.substr(tcp_prefix.size()), role);
    }
    if (url.starts_with(tls_prefix)) {
        return parse_host_port("tls", url.substr(tls_prefix.size()), role);
    }
    if (url.starts_with(uds_prefix)) {
        return parse_uds(url.substr(uds_prefix.size()), role);
    }
    return failure("expected tcp://HOST:PORT, tls://HOST:PORT, uds:///path or uds://@name");
}

Address address_from_url(std::string_view url, AddressRole role) {
    ParsedUrl parsed = parse_url(url, role);
    if (!parsed) {
        throw usage_error(parsed.status, url, parsed.reason);
    }
    return std::move(parsed.address);
}

std::string to_url(const Address& address) {
    const auto host_port = [](std::string_view prefix, std::string_view host, std::uint16_t port) {
        std::string url{prefix};
        if (host.find(':') != std::string_view::npos) {
            url.append("[").append(host).append("]");
        } else {
            url.append(host);
        }
        return url.append(":").append(std::to_string(port));
    };
    const auto uds = [](std::string_view path) { return std::string{uds_prefix}.append(path); };
    return std::visit(
        [&](const auto& a) -> std::string {
            using Kind = std::decay_t<decltype(a)>;
            if constexpr (std::is_same_v<Kind, TcpClientAddress>) {
                return host_port(tcp_prefix, a.host, a.port);
            } else if constexpr (std::is_same_v<Kind, TcpServerAddress>) {
                return host_port(tcp_prefix, a.ip, a.port);
            } else if constexpr (std::is_same_v<Kind, TlsClientAddress>) {
                return host_port(tls_prefix, a.host, a.port);
            } else if constexpr (std::is_same_v<Kind, TlsServerAddress>) {
                return host_port(tls_prefix, a.ip, a.port);
            } else {
                return uds(a.path);
            }
        },
        address);
}

std::string url_from_header_value(std::string_view value, AddressRole role) {
    const ParsedAddress parsed = parse_address(value, role);
    return parsed ? to_url(parsed.address) : std::string{value};
}

}  // namespace tofu::cli

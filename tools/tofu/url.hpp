// Addresses as written on the command line: tcp://HOST:PORT, tcp://[IPv6]:PORT, tls:// as tcp://
// (TCP with TLS), uds:///path and uds://@name (Linux abstract namespace).
#pragma once

#include <string>
#include <string_view>

#include <tofu/address.hpp>
#include <tofu/status.hpp>

namespace tofu::cli {

/// The outcome of reading a command-line address: a tofu address, or a status and a reason.
struct ParsedUrl {
    AmpeStatus status = AmpeStatus::success;
    Address address;
    std::string reason;  ///< why parsing failed, for people; empty on success

    [[nodiscard]] explicit operator bool() const noexcept { return status == AmpeStatus::success; }
};

/// Reads `url` as a client address (`TcpClientAddress`, `TlsClientAddress`, `UdsClientAddress`) or a
/// server address (`TcpServerAddress`, `TlsServerAddress`, `UdsServerAddress`). The result is checked with
/// `tofu::parse_address`, so a malformed address fails with `invalid_address` and tofu's reason.
[[nodiscard]] ParsedUrl parse_url(std::string_view url, AddressRole role);

/// `parse_url`, throwing a usage error ("invalid_address: URL (reason)") on failure.
[[nodiscard]] Address address_from_url(std::string_view url, AddressRole role);

/// The command-line form of `address`: tcp://HOST:PORT or tls://HOST:PORT (IPv6 in brackets) or
/// uds://PATH.
[[nodiscard]] std::string to_url(const Address& address);

/// The command-line form of a `~listen_on` / `~connect_to` header value; the value itself when it
/// does not parse.
[[nodiscard]] std::string url_from_header_value(std::string_view value, AddressRole role);

}  // namespace tofu::cli

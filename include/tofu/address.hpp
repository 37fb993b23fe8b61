/// @file
/// Addresses: where to connect (`~connect_to`) and where to listen (`~listen_on`).
///
/// The header values read `tcp|HOST|PORT`, `tls|HOST|PORT` and `uds|PATH`. HOST is an IPv4 or IPv6 literal
/// (no brackets needed: `tcp|::1|7099`) or a host name. A PATH starting with `@` names the Linux abstract
/// namespace.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include <tofu/message.hpp>
#include <tofu/status.hpp>

namespace tofu {

/// Size of `sockaddr_un::sun_path` on the target OS: 104 on macOS/BSD, 108 elsewhere. A path must
/// be shorter than this (the terminating NUL needs a byte; an abstract name its leading NUL).
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) || \
    defined(__DragonFly__)
inline constexpr std::size_t uds_path_capacity = 104;
#else
inline constexpr std::size_t uds_path_capacity = 108;
#endif

/// The longest UDS path accepted, in bytes.
inline constexpr std::size_t max_uds_path_length = uds_path_capacity - 1;

/// True where the OS has the abstract UDS namespace (`@name`): Linux only.
#if defined(__linux__)
inline constexpr bool has_abstract_uds = true;
#else
inline constexpr bool has_abstract_uds = false;
#endif

/// Connect over TCP: HelloRequest with `~connect_to:tcp|HOST|PORT`.
struct TcpClientAddress {
    std::string host;        ///< IPv4/IPv6 literal or host name
    std::uint16_t port = 0;  ///< 1..65535

    /// Makes `msg` a HelloRequest to this address (sets the op code, appends `~connect_to`).
    void format(Message& msg) const;
    /// The header value, `tcp|HOST|PORT`.
    [[nodiscard]] std::string to_string() const;
    /// Field-by-field equality.
    friend bool operator==(const TcpClientAddress&, const TcpClientAddress&) = default;
};

/// Listen on TCP: WelcomeRequest with `~listen_on:tcp|IP|PORT`.
struct TcpServerAddress {
    std::string ip = "0.0.0.0";  ///< local address to bind (IPv4/IPv6 literal or host name)
    std::uint16_t port = 0;      ///< 0 lets the OS choose

    /// Makes `msg` a WelcomeRequest for this address (sets the op code, appends `~listen_on`).
    void format(Message& msg) const;
    /// The header value, `tcp|IP|PORT`.
    [[nodiscard]] std::string to_string() const;
    /// Field-by-field equality.
    friend bool operator==(const TcpServerAddress&, const TcpServerAddress&) = default;
};

/// Connect over a Unix domain socket: HelloRequest with `~connect_to:uds|PATH`.
struct UdsClientAddress {
    std::string path;  ///< filesystem path, or `@name` (Linux abstract namespace)

    /// Makes `msg` a HelloRequest to this path (sets the op code, appends `~connect_to`).
    void format(Message& msg) const;
    /// The header value, `uds|PATH`.
    [[nodiscard]] std::string to_string() const;
    /// Field-by-field equality.
    friend bool operator==(const UdsClientAddress&, const UdsClientAddress&) = default;
};

/// Listen on a Unix domain socket: WelcomeRequest with `~listen_on:uds|PATH`.
struct UdsServerAddress {
    std::string path;  ///< filesystem path, or `@name` (Linux abstract namespace)

    /// Makes `msg` a WelcomeRequest for this path (sets the op code, appends `~listen_on`).
    void format(Message& msg) const;
    /// The header value, `uds|PATH`.
    [[nodiscard]] std::string to_string() const;
    /// Field-by-field equality.
    friend bool operator==(const UdsServerAddress&, const UdsServerAddress&) = default;
};

/// Connect over TCP with TLS: HelloRequest with `~connect_to:tls|HOST|PORT`. The server's
/// certificate must name HOST (a DNS name, or an IP address as an IP SAN), unless the HelloRequest
/// carries `~tls_server_name`. Certificates and checks: `TlsOptions`.
struct TlsClientAddress {
    std::string host;        ///< IPv4/IPv6 literal or host name
    std::uint16_t port = 0;  ///< 1..65535

    /// Makes `msg` a HelloRequest to this address (sets the op code, appends `~connect_to`).
    void format(Message& msg) const;
    /// The header value, `tls|HOST|PORT`.
    [[nodiscard]] std::string to_string() const;
    /// Field-by-field equality.
    friend bool operator==(const TlsClientAddress&, const TlsClientAddress&) = default;
};

/// Listen on TCP with TLS: WelcomeRequest with `~listen_on:tls|IP|PORT`. The listener needs a
/// certificate and its key (`TlsOptions`, or `~tls_cert` and `~tls_key` on the WelcomeRequest).
struct TlsServerAddress {
    std::string ip = "0.0.0.0";  ///< local address to bind (IPv4/IPv6 literal or host name)
    std::uint16_t port = 0;      ///< 0 lets the OS choose

    /// Makes `msg` a WelcomeRequest for this address (sets the op code, appends `~listen_on`).
    void format(Message& msg) const;
    /// The header value, `tls|IP|PORT`.
    [[nodiscard]] std::string to_string() const;
    /// Field-by-field equality.
    friend bool operator==(const TlsServerAddress&, const TlsServerAddress&) = default;
};

/// Any of the address kinds.
using Address = std::variant<TcpClientAddress, TcpServerAddress, UdsClientAddress, UdsServerAddress,
                             TlsClientAddress, TlsServerAddress>;

/// Makes `msg` a HelloRequest or WelcomeRequest for `address`.
void format(Message& msg, const Address& address);

/// The header value of `address`.
[[nodiscard]] std::string to_string(const Address& address);

/// True for the client kinds (they go with HelloRequest).
[[nodiscard]] bool is_client(const Address& address) noexcept;

/// Which header an address value comes from.
enum class AddressRole : std::uint8_t {
    client,  ///< `~connect_to` (HelloRequest)
    server,  ///< `~listen_on` (WelcomeRequest)
};

/// The outcome of parsing an address value: the address, or a status with a reason.
struct ParsedAddress {
    AmpeStatus status = AmpeStatus::success;  ///< `success` or `invalid_address`
    Address address;                          ///< the address, when parsing succeeded
    /// Why parsing failed, for people (e.g. "port 0 is not allowed for a client"); empty on success.
    std::string_view reason;

    /// True when parsing succeeded.
    [[nodiscard]] explicit operator bool() const noexcept { return status == AmpeStatus::success; }
};

/// Parses a `~connect_to` (client) or `~listen_on` (server) value. A `tls` value parses as a `tcp`
/// one does. Every malformed input yields `invalid_address` with a reason: an empty value, an
/// unknown scheme, missing or extra fields, empty host, a
/// port that is not a number in 0..65535, port 0 for a client, an empty path, a path that does not fit
/// `sockaddr_un`, a NUL byte in a path, or `@name` where there is no abstract namespace.
[[nodiscard]] ParsedAddress parse_address(std::string_view value, AddressRole role);

/// Parses the address a HelloRequest (`~connect_to`), WelcomeRequest or WelcomeResponse
/// (`~listen_on`) carries. On a successful WelcomeResponse this is the address actually bound, so
/// `std::get<TcpServerAddress>(parse_address(*ready).address).port` is the port the OS chose.
/// A message of another op code, or one without the header, yields `invalid_address`.
[[nodiscard]] ParsedAddress parse_address(const Message& msg);

}  // namespace tofu

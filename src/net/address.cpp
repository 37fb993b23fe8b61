#include <algorithm>
#include <charconv>
#include <string>

#include <tofu/address.hpp>

#include "message/text.hpp"

namespace tofu {
namespace {

constexpr std::string_view tcp_scheme = "tcp";
constexpr std::string_view uds_scheme = "uds";
constexpr std::string_view tls_scheme = "tls";
constexpr char separator = '|';

// sun_path holds the path and its terminating NUL: 107 bytes of path on Linux and Windows.
static_assert(uds_path_capacity == 104 || uds_path_capacity == 108);
constexpr std::string_view uds_path_too_long =
    uds_path_capacity == 104 ? "uds path too long: at most 103 bytes (sockaddr_un holds 104 with the NUL)"
                             : "uds path too long: at most 107 bytes (sockaddr_un holds 108 with the NUL)";

ParsedAddress failure(std::string_view reason) {
    return ParsedAddress{AmpeStatus::invalid_address, {}, reason};
}

/// Splits off the text before the next separator; `rest` keeps what follows it.
std::string_view next_field(std::string_view& rest, bool& found) noexcept {
    const std::size_t bar = rest.find(separator);
    found = bar != std::string_view::npos;
    const std::string_view field = rest.substr(0, bar);
    rest.remove_prefix(found ? bar + 1 : rest.size());
    return detail::trim_blanks(field);
}

/// `tcp|HOST|PORT` or (with `tls`) `tls|HOST|PORT`, after the scheme.
ParsedAddress parse_tcp(std::string_view rest, AddressRole role, bool tls) {
    bool more = false;
    std::string_view host = next_field(rest, more);
    if (!more) {
        return failure(tls ? "tls address needs tls|HOST|PORT" : "tcp address needs tcp|HOST|PORT");
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);  // tolerate a bracketed IPv6 literal
    }
    if (host.empty()) {
        return failure("empty host");
    }
    if (std::ranges::any_of(host, [](char c) { return static_cast<unsigned char>(c) <= ' '; })) {
        return failure("host holds a space or control character");
    }
    if (host.find_first_of("[]") != std::string_view::npos) {
        return failure("host holds a bracket (only one pair may enclose an IPv6 literal)");
    }
    const std::string_view port_text = next_field(rest, more);
    if (more) {
        return failure(tls ? "too many fields in tls address" : "too many fields in tcp address");
    }
    if (port_text.empty()) {
        return failure("empty port");
    }
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535) {
        return failure("port is not a number in 0..65535");
    }
    if (port == 0 && role == AddressRole::client) {
        return failure("port 0 is not allowed for a client");
    }
    const auto p = static_cast<std::uint16_t>(port);
    std::string h{host};
    if (tls) {
        return role == AddressRole::client
                   ? ParsedAddress{AmpeStatus::success, TlsClientAddress{std::move(h), p}, {}}
                   : ParsedAddress{AmpeStatus::success, TlsServerAddress{std::move(h), p}, {}};
    }
    if (role == AddressRole::client) {
        return ParsedAddress{AmpeStatus::success, TcpClientAddress{std::move(h), p}, {}};
    }
    return ParsedAddress{AmpeStatus::success, TcpServerAddress{std::move(h), p}, {}};
}

ParsedAddress parse_uds(std::string_view path, AddressRole role) {
    // The path is everything after the scheme: a file name may hold '|'.
    path = detail::trim_blanks(path);
    if (path.empty()) {
        return failure("empty uds path");
    }
    if (path.find('\0') != std::string_view::npos) {
        return failure("uds path holds a NUL byte");
    }
    if (path.front() == '@') {
        if (!has_abstract_uds) {
            return failure("abstract uds names (@name) exist on Linux only");
        }
        if (path.size() == 1) {
            return failure("empty abstract uds name");
        }
    }
    if (path.size() > max_uds_path_length) {
        return failure(uds_path_too_long);
    }
    if (role == AddressRole::client) {
        return ParsedAddress{AmpeStatus::success, UdsClientAddress{std::string{path}}, {}};
    }
    return ParsedAddress{AmpeStatus::success, UdsServerAddress{std::string{path}}, {}};
}

std::string tcp_value(std::string_view host, std::uint16_t port, std::string_view scheme = tcp_scheme) {
    std::string v{scheme};
    v += separator;
    v += host;
    v += separator;
    v += std::to_string(port);
    return v;
}

std::string uds_value(std::string_view path) {
    std::string v{uds_scheme};
    v += separator;
    v += path;
    return v;
}

void format_as(Message& msg, OpCode op, std::string_view name, const std::string& value) {
    msg.bhdr.proto.op_code = op;
    msg.thdrs.append(name, value);
}

}  // namespace

std::string TcpClientAddress::to_string() const {
    return tcp_value(host, port);
}
std::string TcpServerAddress::to_string() const {
    return tcp_value(ip, port);
}
std::string TlsClientAddress::to_string() const {
    return tcp_value(host, port, tls_scheme);
}
std::string TlsServerAddress::to_string() const {
    return tcp_value(ip, port, tls_scheme);
}
std::string UdsClientAddress::to_string() const {
    return uds_value(path);
}
std::string UdsServerAddress::to_string() const {
    return uds_value(path);
}

void TcpClientAddress::format(Message& msg) const {
    format_as(msg, OpCode::hello_request, header::connect_to, to_string());
}
void TcpServerAddress::format(Message& msg) const {
    format_as(msg, OpCode::welcome_request, header::listen_on, to_string());
}
void TlsClientAddress::format(Message& msg) const {
    format_as(msg, OpCode::hello_request, header::connect_to, to_string());
}
void TlsServerAddress::format(Message& msg) const {
    format_as(msg, OpCode::welcome_request, header::listen_on, to_string());
}
void UdsClientAddress::format(Message& msg) const {
    format_as(msg, OpCode::hello_request, header::connect_to, to_string());
}
void UdsServerAddress::format(Message& msg) const {
    format_as(msg, OpCode::welcome_request, header::listen_on, to_string());
}

void format(Message& msg, const Address& address) {
    std::visit([&](const auto& a) { a.format(msg); }, address);
}

std::string to_string(const Address& address) {
    return std::visit([](const auto& a) { return a.to_string(); }, address);
}

bool is_client(const Address& address) noexcept {
    return std::holds_alternative<TcpClientAddress>(address) ||
           std::holds_alternative<UdsClientAddress>(address) ||
           std::holds_alternative<TlsClientAddress>(address);
}

ParsedAddress parse_address(std::string_view value, AddressRole role) {
    std::string_view rest = detail::trim_blanks(value);
    if (rest.empty()) {
        return failure("empty address");
    }
    bool more = false;
    const std::string_view scheme = next_field(rest, more);
    if (scheme != tcp_scheme && scheme != uds_scheme && scheme != tls_scheme) {
        return failure("unknown scheme (expected tcp, tls or uds)");
    }
    if (!more) {
        return failure(scheme == tcp_scheme   ? "tcp address needs tcp|HOST|PORT"
                       : scheme == tls_scheme ? "tls address needs tls|HOST|PORT"
                                              : "uds address needs uds|PATH");
    }
    return scheme == uds_scheme ? parse_uds(rest, role) : parse_tcp(rest, role, scheme == tls_scheme);
}

ParsedAddress parse_address(const Message& msg) {
    const OpCode op = msg.bhdr.proto.op_code;
    if (op != OpCode::hello_request && op != OpCode::welcome_request && op != OpCode::welcome_response) {
        return failure("only HelloRequest, WelcomeRequest and WelcomeResponse carry an address");
    }
    const bool client = op == OpCode::hello_request;
    const auto value = msg.thdrs.find(client ? header::connect_to : header::listen_on);
    if (!value) {
        return failure(client ? "HelloRequest without ~connect_to" : "Welcome message without ~listen_on");
    }
    return parse_address(*value, client ? AddressRole::client : AddressRole::server);
}

}  // namespace tofu

// Command-line addresses (tools/tofu/url.hpp): every accepted form becomes the right tofu address,
// every malformed one fails with `invalid_address` and a reason, and addresses print back as URLs.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include <tofu/address.hpp>
#include <tofu/status.hpp>

#include "errors.hpp"
#include "url.hpp"

namespace tofu::cli {
namespace {

void expect_parsed(std::string_view url, AddressRole role, const Address& expected) {
    const ParsedUrl parsed = parse_url(url, role);
    EXPECT_TRUE(parsed) << url << ": " << parsed.reason;
    EXPECT_TRUE(parsed.reason.empty()) << url;
    EXPECT_TRUE(parsed.address == expected) << url << " gave " << to_string(parsed.address);
}

void expect_invalid(std::string_view url, AddressRole role, std::string_view reason_part) {
    const ParsedUrl parsed = parse_url(url, role);
    EXPECT_FALSE(parsed) << url;
    EXPECT_EQ(parsed.status, AmpeStatus::invalid_address) << url;
    EXPECT_NE(parsed.reason.find(reason_part), std::string::npos)
        << url << ": reason '" << parsed.reason << "' lacks '" << reason_part << "'";
}

TEST(CliUrl, TcpIpv4ForClientAndServer) {
    expect_parsed("tcp://127.0.0.1:7099", AddressRole::client, TcpClientAddress{"127.0.0.1", 7099});
    expect_parsed("tcp://0.0.0.0:7099", AddressRole::server, TcpServerAddress{"0.0.0.0", 7099});
}

TEST(CliUrl, TcpHostName) {
    expect_parsed("tcp://localhost:80", AddressRole::client, TcpClientAddress{"localhost", 80});
}

TEST(CliUrl, TcpIpv6InBrackets) {
    expect_parsed("tcp://[::1]:7099", AddressRole::client, TcpClientAddress{"::1", 7099});
    expect_parsed("tcp://[fe80::1%lo]:1", AddressRole::client, TcpClientAddress{"fe80::1%lo", 1});
    expect_parsed("tcp://[::]:0", AddressRole::server, TcpServerAddress{"::", 0});
}

TEST(CliUrl, TlsParsesAsTcpDoes) {
    expect_parsed("tls://127.0.0.1:7099", AddressRole::client, TlsClientAddress{"127.0.0.1", 7099});
    expect_parsed("tls://localhost:443", AddressRole::client, TlsClientAddress{"localhost", 443});
    expect_parsed("tls://[::1]:7099", AddressRole::client, TlsClientAddress{"::1", 7099});
    expect_parsed("tls://0.0.0.0:0", AddressRole::server, TlsServerAddress{"0.0.0.0", 0});
    expect_parsed("tls://[::]:7099", AddressRole::server, TlsServerAddress{"::", 7099});
}

TEST(CliUrl, MalformedTls) {
    expect_invalid("tls://127.0.0.1:0", AddressRole::client, "port 0");
    expect_invalid("tls://host", AddressRole::client, "missing :PORT");
    expect_invalid("tls://::1:80", AddressRole::client, "tls://[::1]:PORT");
    expect_invalid("tls://[::1:80", AddressRole::client, "missing ]");
    expect_invalid("tls://h:65536", AddressRole::client, "0..65535");
    expect_invalid("tls://:80", AddressRole::client, "empty host");
    expect_invalid("TLS://host:80", AddressRole::client, "tls://HOST:PORT");
}

TEST(CliUrl, PortZeroOnlyForServers) {
    expect_parsed("tcp://127.0.0.1:0", AddressRole::server, TcpServerAddress{"127.0.0.1", 0});
    expect_invalid("tcp://127.0.0.1:0", AddressRole::client, "port 0");
}

TEST(CliUrl, PortLimits) {
    expect_parsed("tcp://h:65535", AddressRole::client, TcpClientAddress{"h", 65535});
    expect_parsed("tcp://h:00080", AddressRole::client, TcpClientAddress{"h", 80});
    expect_invalid("tcp://h:65536", AddressRole::client, "0..65535");
    expect_invalid("tcp://h:99999999999999999999", AddressRole::client, "0..65535");
}

TEST(CliUrl, UdsPathAndAbstractName) {
    expect_parsed("uds:///tmp/a.sock", AddressRole::client, UdsClientAddress{"/tmp/a.sock"});
    expect_parsed("uds:///tmp/a.sock", AddressRole::server, UdsServerAddress{"/tmp/a.sock"});
    if (has_abstract_uds) {
        expect_parsed("uds://@name", AddressRole::client, UdsClientAddress{"@name"});
        expect_parsed("uds://@name", AddressRole::server, UdsServerAddress{"@name"});
    } else {
        expect_invalid("uds://@name", AddressRole::client, "Linux");
    }
}

TEST(CliUrl, UdsPathAtTheSockaddrLimit) {
    const std::string longest = "/" + std::string(max_uds_path_length - 1, 'p');
    expect_parsed("uds://" + longest, AddressRole::server, UdsServerAddress{longest});
    expect_invalid("uds://" + longest + "p", AddressRole::server, "too long");
}

TEST(CliUrl, MissingPort) {
    expect_invalid("tcp://host", AddressRole::client, "missing :PORT");
    expect_invalid("tcp://[::1]", AddressRole::client, "after ]");
    expect_invalid("tcp://host:", AddressRole::client, "empty port");
}

TEST(CliUrl, MalformedTcp) {
    expect_invalid("tcp://:80", AddressRole::client, "empty host");
    expect_invalid("tcp://[]:80", AddressRole::client, "empty host");
    expect_invalid("tcp://", AddressRole::client, "missing :PORT");
    expect_invalid("tcp://::1:80", AddressRole::client, "brackets");
    expect_invalid("tcp://[::1:80", AddressRole::client, "missing ]");
    expect_invalid("tcp://[::1]x:80", AddressRole::client, "after ]");
    expect_invalid("tcp://h:8o", AddressRole::client, "not a number");
    expect_invalid("tcp://h:-1", AddressRole::client, "not a number");
    expect_invalid("tcp://h:+1", AddressRole::client, "not a number");
    expect_invalid("tcp://h:80/path", AddressRole::client, "not a number");
    expect_invalid("tcp://a|b:80", AddressRole::client, "'|'");
}

TEST(CliUrl, MalformedUds) {
    expect_invalid("uds://", AddressRole::client, "empty uds path");
    expect_invalid("uds://relative.sock", AddressRole::client, "uds:///");
    if (has_abstract_uds) {
        expect_invalid("uds://@", AddressRole::server, "empty abstract");
    }
}

TEST(CliUrl, UnknownSchemeOrNoScheme) {
    expect_invalid("", AddressRole::client, "expected tcp://");
    expect_invalid("127.0.0.1:80", AddressRole::client, "expected tcp://");
    expect_invalid("http://host:80", AddressRole::client, "expected tcp://");
    expect_invalid("TCP://host:80", AddressRole::client, "expected tcp://");
    expect_invalid("tcp:/host:80", AddressRole::client, "expected tcp://");
    expect_invalid("tcp|host|80", AddressRole::client, "expected tcp://");
}

TEST(CliUrl, SpacesAndControlCharactersAreRejected) {
    expect_invalid("tcp://host: 80", AddressRole::client, "space");
    expect_invalid(" tcp://host:80", AddressRole::client, "space");
    expect_invalid("uds:///tmp/a b.sock", AddressRole::client, "space");
    expect_invalid(std::string_view{"uds:///tmp/a\0b", 14}, AddressRole::client, "control");
}

TEST(CliUrl, AddressFromUrlThrowsAUsageError) {
    try {
        static_cast<void>(address_from_url("tcp://host", AddressRole::client));
        FAIL() << "no exception";
    } catch (const CommandError& e) {
        EXPECT_EQ(e.exit_code(), exit_usage);
        EXPECT_STREQ(e.what(), "invalid_address: tcp://host (missing :PORT)");
    }
}

TEST(CliUrl, AddressesPrintAsUrls) {
    EXPECT_EQ(to_url(TcpClientAddress{"127.0.0.1", 7099}), "tcp://127.0.0.1:7099");
    EXPECT_EQ(to_url(TcpServerAddress{"::1", 0}), "tcp://[::1]:0");
    EXPECT_EQ(to_url(UdsClientAddress{"/tmp/a.sock"}), "uds:///tmp/a.sock");
    EXPECT_EQ(to_url(UdsServerAddress{"@name"}), "uds://@name");
    EXPECT_EQ(to_url(TlsClientAddress{"localhost", 443}), "tls://localhost:443");
    EXPECT_EQ(to_url(TlsServerAddress{"::", 0}), "tls://[::]:0");
}

TEST(CliUrl, UrlsRoundTrip) {
    for (const std::string_view url :
         {"tcp://127.0.0.1:1", "tcp://[::1]:65535", "tcp://example.org:80", "uds:///tmp/x.sock",
          "tls://127.0.0.1:1", "tls://[::1]:65535", "tls://example.org:443"}) {
        const ParsedUrl parsed = parse_url(url, AddressRole::client);
        ASSERT_TRUE(parsed) << url;
        EXPECT_EQ(to_url(parsed.address), url);
    }
}

TEST(CliUrl, HeaderValuesPrintAsUrls) {
    EXPECT_EQ(url_from_header_value("tcp|127.0.0.1|43567", AddressRole::server), "tcp://127.0.0.1:43567");
    EXPECT_EQ(url_from_header_value("tcp|::1|43567", AddressRole::server), "tcp://[::1]:43567");
    EXPECT_EQ(url_from_header_value("uds|/tmp/s.sock", AddressRole::server), "uds:///tmp/s.sock");
    EXPECT_EQ(url_from_header_value("tls|127.0.0.1|43567", AddressRole::server), "tls://127.0.0.1:43567");
    EXPECT_EQ(url_from_header_value("tls|::1|43567", AddressRole::server), "tls://[::1]:43567");
    EXPECT_EQ(url_from_header_value("nonsense", AddressRole::server), "nonsense");
}

}  // namespace
}  // namespace tofu::cli

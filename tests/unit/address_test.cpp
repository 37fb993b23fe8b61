// Addresses (DESIGN.md section 5): the four address kinds, how they format a HelloRequest or
// WelcomeRequest, and how `parse_address` reads `~connect_to` / `~listen_on` values back, including
// every malformed value it must reject with `invalid_address`. Nothing here touches the filesystem:
// UDS paths are strings only.
#include <tofu/tofu.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

// --- helpers -------------------------------------------------------------------------------------

/// A readable rendering of an address for failure messages.
std::string describe(const tofu::Address& address) {
    static constexpr std::string_view kinds[] = {"TcpClientAddress", "TcpServerAddress", "UdsClientAddress",
                                                 "UdsServerAddress"};
    return std::string{kinds[address.index()]} + "{" + tofu::to_string(address) + "}";
}

/// A readable rendering of a parse result for failure messages.
std::string describe(const tofu::ParsedAddress& parsed) {
    return std::string{tofu::status_name(parsed.status)} + " reason='" + std::string{parsed.reason} +
           "' address=" + describe(parsed.address);
}

/// A path of exactly `n` bytes: "/" followed by 'p's.
std::string path_of_length(std::size_t n) {
    std::string path(n, 'p');
    if (n > 0) {
        path.front() = '/';
    }
    return path;
}

/// Expects `parsed` to be a rejection: `invalid_address`, a reason, and `false` as a bool.
void expect_invalid(const tofu::ParsedAddress& parsed) {
    EXPECT_EQ(parsed.status, tofu::AmpeStatus::invalid_address) << describe(parsed);
    EXPECT_FALSE(parsed.reason.empty()) << describe(parsed);
    EXPECT_FALSE(static_cast<bool>(parsed)) << describe(parsed);
}

/// Expects `parsed` to be a success holding `expected`.
void expect_parsed(const tofu::ParsedAddress& parsed, const tofu::Address& expected) {
    EXPECT_EQ(parsed.status, tofu::AmpeStatus::success) << describe(parsed);
    EXPECT_TRUE(static_cast<bool>(parsed)) << describe(parsed);
    EXPECT_TRUE(parsed.reason.empty()) << describe(parsed);
    EXPECT_EQ(parsed.address.index(), expected.index()) << describe(parsed) << " vs " << describe(expected);
    EXPECT_TRUE(parsed.address == expected) << describe(parsed) << " vs " << describe(expected);
}

/// A standalone message whose op code is `op` and which carries `name:value`.
tofu::MessagePtr message_with(tofu::OpCode op, std::string_view name, std::string_view value) {
    tofu::MessagePtr msg = tofu::Message::create();
    msg->bhdr.proto.op_code = op;
    msg->thdrs.append(name, value);
    return msg;
}

/// Test names of a parameterized table: each case's `name` field.
template <typename Case>
std::string case_name(const ::testing::TestParamInfo<Case>& param_info) {
    return param_info.param.name;
}

// --- format(), to_string(), is_client() ----------------------------------------------------------

TEST(AddressFormat, TcpClientMakesHelloRequestWithConnectTo) {
    tofu::MessagePtr msg = tofu::Message::create();
    const tofu::TcpClientAddress address{"127.0.0.1", 7099};
    address.format(*msg);
    EXPECT_EQ(msg->bhdr.proto.op_code, tofu::OpCode::hello_request);
    EXPECT_EQ(msg->thdrs.text(), "~connect_to:tcp|127.0.0.1|7099\r\n");
    EXPECT_EQ(msg->thdrs.find(tofu::header::connect_to), "tcp|127.0.0.1|7099");
    EXPECT_FALSE(msg->thdrs.find(tofu::header::listen_on).has_value());
}

TEST(AddressFormat, TcpServerMakesWelcomeRequestWithListenOn) {
    tofu::MessagePtr msg = tofu::Message::create();
    const tofu::TcpServerAddress address{"0.0.0.0", 7099};
    address.format(*msg);
    EXPECT_EQ(msg->bhdr.proto.op_code, tofu::OpCode::welcome_request);
    EXPECT_EQ(msg->thdrs.text(), "~listen_on:tcp|0.0.0.0|7099\r\n");
    EXPECT_FALSE(msg->thdrs.find(tofu::header::connect_to).has_value());
}

TEST(AddressFormat, TcpServerDefaultsToAnyAddressAndPortZero) {
    const tofu::TcpServerAddress address{};
    EXPECT_EQ(address.ip, "0.0.0.0");
    EXPECT_EQ(address.port, 0);
    tofu::MessagePtr msg = tofu::Message::create();
    address.format(*msg);
    EXPECT_EQ(msg->bhdr.proto.op_code, tofu::OpCode::welcome_request);
    EXPECT_EQ(msg->thdrs.text(), "~listen_on:tcp|0.0.0.0|0\r\n");
}

TEST(AddressFormat, UdsClientMakesHelloRequestWithConnectTo) {
    tofu::MessagePtr msg = tofu::Message::create();
    const tofu::UdsClientAddress address{"/tmp/a.sock"};
    address.format(*msg);
    EXPECT_EQ(msg->bhdr.proto.op_code, tofu::OpCode::hello_request);
    EXPECT_EQ(msg->thdrs.text(), "~connect_to:uds|/tmp/a.sock\r\n");
}

TEST(AddressFormat, UdsServerMakesWelcomeRequestWithListenOn) {
    tofu::MessagePtr msg = tofu::Message::create();
    const tofu::UdsServerAddress address{"/tmp/a.sock"};
    address.format(*msg);
    EXPECT_EQ(msg->bhdr.proto.op_code, tofu::OpCode::welcome_request);
    EXPECT_EQ(msg->thdrs.text(), "~listen_on:uds|/tmp/a.sock\r\n");
}

TEST(AddressFormat, Ipv6LiteralIsWrittenWithoutBrackets) {
    tofu::MessagePtr msg = tofu::Message::create();
    tofu::TcpClientAddress{"::1", 443}.format(*msg);
    EXPECT_EQ(msg->thdrs.text(), "~connect_to:tcp|::1|443\r\n");
}

TEST(AddressFormat, MaxPortIsWrittenInFull) {
    tofu::MessagePtr msg = tofu::Message::create();
    tofu::TcpClientAddress{"localhost", 65535}.format(*msg);
    EXPECT_EQ(msg->thdrs.text(), "~connect_to:tcp|localhost|65535\r\n");
}

TEST(AddressFormat, OverwritesOpCodeAndKeepsOtherFields) {
    tofu::MessagePtr msg = tofu::Message::create();
    msg->bhdr.proto.op_code = tofu::OpCode::signal;
    msg->bhdr.message_id = 42;
    msg->bhdr.channel_number = 7;
    msg->body.copy(std::string_view{"payload"});
    tofu::TcpClientAddress{"h", 1}.format(*msg);
    EXPECT_EQ(msg->bhdr.proto.op_code, tofu::OpCode::hello_request);
    EXPECT_EQ(msg->bhdr.message_id, 42U);
    EXPECT_EQ(msg->bhdr.channel_number, 7);
    EXPECT_EQ(msg->body.text(), "payload");
}

TEST(AddressFormat, AppendsAfterExistingHeaders) {
    tofu::MessagePtr msg = tofu::Message::create();
    msg->thdrs.append("app", "x");
    tofu::UdsServerAddress{"/tmp/s"}.format(*msg);
    EXPECT_EQ(msg->thdrs.text(), "app:x\r\n~listen_on:uds|/tmp/s\r\n");
    EXPECT_EQ(msg->thdrs.find("app"), "x");
}

TEST(AddressFormat, FreeFunctionDispatchesOnEveryKind) {
    struct Case {
        tofu::Address address;
        tofu::OpCode op;
        std::string_view headers;
    };
    const std::vector<Case> cases{
        {tofu::TcpClientAddress{"127.0.0.1", 7099}, tofu::OpCode::hello_request,
         "~connect_to:tcp|127.0.0.1|7099\r\n"},
        {tofu::TcpServerAddress{"::", 8080}, tofu::OpCode::welcome_request, "~listen_on:tcp|::|8080\r\n"},
        {tofu::UdsClientAddress{"/tmp/a.sock"}, tofu::OpCode::hello_request,
         "~connect_to:uds|/tmp/a.sock\r\n"},
        {tofu::UdsServerAddress{"/tmp/b.sock"}, tofu::OpCode::welcome_request,
         "~listen_on:uds|/tmp/b.sock\r\n"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(describe(c.address));
        tofu::MessagePtr msg = tofu::Message::create();
        tofu::format(*msg, c.address);
        EXPECT_EQ(msg->bhdr.proto.op_code, c.op);
        EXPECT_EQ(msg->thdrs.text(), c.headers);
    }
}

TEST(AddressToString, MemberFunctionsGiveTheHeaderValue) {
    EXPECT_EQ(tofu::TcpClientAddress({"127.0.0.1", 7099}).to_string(), "tcp|127.0.0.1|7099");
    EXPECT_EQ(tofu::TcpServerAddress({"0.0.0.0", 0}).to_string(), "tcp|0.0.0.0|0");
    EXPECT_EQ(tofu::TcpClientAddress({"fe80::1", 65535}).to_string(), "tcp|fe80::1|65535");
    EXPECT_EQ(tofu::UdsClientAddress{"/tmp/a.sock"}.to_string(), "uds|/tmp/a.sock");
    EXPECT_EQ(tofu::UdsServerAddress{"@name"}.to_string(), "uds|@name");
}

TEST(AddressToString, FreeFunctionMatchesMembers) {
    EXPECT_EQ(tofu::to_string(tofu::Address{tofu::TcpClientAddress{"localhost", 1}}), "tcp|localhost|1");
    EXPECT_EQ(tofu::to_string(tofu::Address{tofu::TcpServerAddress{"::1", 2}}), "tcp|::1|2");
    EXPECT_EQ(tofu::to_string(tofu::Address{tofu::UdsClientAddress{"/x|y"}}), "uds|/x|y");
    EXPECT_EQ(tofu::to_string(tofu::Address{tofu::UdsServerAddress{"/srv"}}), "uds|/srv");
}

TEST(AddressIsClient, TrueForClientKindsOnly) {
    EXPECT_TRUE(tofu::is_client(tofu::Address{tofu::TcpClientAddress{"h", 1}}));
    EXPECT_TRUE(tofu::is_client(tofu::Address{tofu::UdsClientAddress{"/a"}}));
    EXPECT_FALSE(tofu::is_client(tofu::Address{tofu::TcpServerAddress{"h", 1}}));
    EXPECT_FALSE(tofu::is_client(tofu::Address{tofu::UdsServerAddress{"/a"}}));
}

TEST(AddressLimits, PathLimitsMatchThePlatform) {
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) || \
    defined(__DragonFly__)
    EXPECT_EQ(tofu::uds_path_capacity, 104U);
#else
    EXPECT_EQ(tofu::uds_path_capacity, 108U);
#endif
    EXPECT_EQ(tofu::max_uds_path_length, tofu::uds_path_capacity - 1);
#if defined(__linux__)
    EXPECT_TRUE(tofu::has_abstract_uds);
#else
    EXPECT_FALSE(tofu::has_abstract_uds);
#endif
}

// --- round trips: format, then parse_address(const Message&) ------------------------------------

struct RoundTripCase {
    std::string name;
    tofu::Address address;
};

std::vector<RoundTripCase> round_trip_cases() {
    std::vector<RoundTripCase> cases{
        {"TcpClientIpv4", tofu::TcpClientAddress{"127.0.0.1", 7099}},
        {"TcpClientIpv6Loopback", tofu::TcpClientAddress{"::1", 7099}},
        {"TcpClientIpv6LinkLocal", tofu::TcpClientAddress{"fe80::1", 80}},
        {"TcpClientHostName", tofu::TcpClientAddress{"localhost", 7099}},
        {"TcpClientPort1", tofu::TcpClientAddress{"10.0.0.1", 1}},
        {"TcpClientPort65535", tofu::TcpClientAddress{"10.0.0.1", 65535}},
        {"TcpServerIpv4Any", tofu::TcpServerAddress{"0.0.0.0", 7099}},
        {"TcpServerIpv6Loopback", tofu::TcpServerAddress{"::1", 7099}},
        {"TcpServerIpv6LinkLocal", tofu::TcpServerAddress{"fe80::1", 9000}},
        {"TcpServerHostName", tofu::TcpServerAddress{"localhost", 7099}},
        {"TcpServerPort0", tofu::TcpServerAddress{"127.0.0.1", 0}},
        {"TcpServerDefault", tofu::TcpServerAddress{}},
        {"UdsClientPath", tofu::UdsClientAddress{"/tmp/a.sock"}},
        {"UdsServerPath", tofu::UdsServerAddress{"/tmp/a.sock"}},
        {"UdsClientRelativePath", tofu::UdsClientAddress{"a.sock"}},
        {"UdsClientPathWithBar", tofu::UdsClientAddress{"/tmp/a|b.sock"}},
        {"UdsServerPathWithBars", tofu::UdsServerAddress{"/tmp/|x|y|"}},
        {"UdsClientPathWithColon", tofu::UdsClientAddress{"/tmp/a:b.sock"}},
        {"UdsClientMaxLengthPath", tofu::UdsClientAddress{path_of_length(tofu::max_uds_path_length)}},
        {"UdsServerMaxLengthPath", tofu::UdsServerAddress{path_of_length(tofu::max_uds_path_length)}},
    };
    if constexpr (tofu::has_abstract_uds) {
        cases.push_back({"UdsClientAbstract", tofu::UdsClientAddress{"@name"}});
        cases.push_back({"UdsServerAbstract", tofu::UdsServerAddress{"@tofu-test"}});
    }
    return cases;
}

class AddressRoundTripTest : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(AddressRoundTripTest, FormatThenParseMessageGivesEqualAddress) {
    const tofu::Address& address = GetParam().address;
    tofu::MessagePtr msg = tofu::Message::create();
    tofu::format(*msg, address);
    EXPECT_EQ(msg->bhdr.proto.op_code,
              tofu::is_client(address) ? tofu::OpCode::hello_request : tofu::OpCode::welcome_request);
    expect_parsed(tofu::parse_address(*msg), address);
}

TEST_P(AddressRoundTripTest, ToStringThenParseValueGivesEqualAddress) {
    const tofu::Address& address = GetParam().address;
    const tofu::AddressRole role =
        tofu::is_client(address) ? tofu::AddressRole::client : tofu::AddressRole::server;
    expect_parsed(tofu::parse_address(tofu::to_string(address), role), address);
}

TEST_P(AddressRoundTripTest, SurvivesACloneOfTheMessage) {
    const tofu::Address& address = GetParam().address;
    tofu::MessagePtr msg = tofu::Message::create();
    tofu::format(*msg, address);
    const tofu::MessagePtr copy = msg->clone();
    msg.reset();
    expect_parsed(tofu::parse_address(*copy), address);
}

INSTANTIATE_TEST_SUITE_P(Address, AddressRoundTripTest, ::testing::ValuesIn(round_trip_cases()),
                         case_name<RoundTripCase>);

// --- parse_address(value, role): accepted values -------------------------------------------------

TEST(AddressParse, TcpClientBasic) {
    expect_parsed(tofu::parse_address("tcp|127.0.0.1|7099", tofu::AddressRole::client),
                  tofu::TcpClientAddress{"127.0.0.1", 7099});
}

TEST(AddressParse, RoleSelectsTheKind) {
    expect_parsed(tofu::parse_address("tcp|h|5", tofu::AddressRole::client), tofu::TcpClientAddress{"h", 5});
    expect_parsed(tofu::parse_address("tcp|h|5", tofu::AddressRole::server), tofu::TcpServerAddress{"h", 5});
    expect_parsed(tofu::parse_address("uds|/p", tofu::AddressRole::client), tofu::UdsClientAddress{"/p"});
    expect_parsed(tofu::parse_address("uds|/p", tofu::AddressRole::server), tofu::UdsServerAddress{"/p"});
}

TEST(AddressParse, WhitespaceAroundFieldsIsTolerated) {
    expect_parsed(tofu::parse_address(" tcp | 127.0.0.1 | 7099 ", tofu::AddressRole::client),
                  tofu::TcpClientAddress{"127.0.0.1", 7099});
    expect_parsed(tofu::parse_address("\ttcp\t|\t::1\t|\t80\t", tofu::AddressRole::server),
                  tofu::TcpServerAddress{"::1", 80});
    expect_parsed(tofu::parse_address("  uds |  /tmp/a.sock  ", tofu::AddressRole::client),
                  tofu::UdsClientAddress{"/tmp/a.sock"});
}

TEST(AddressParse, BracketedIpv6IsUnwrapped) {
    expect_parsed(tofu::parse_address("tcp|[::1]|80", tofu::AddressRole::client),
                  tofu::TcpClientAddress{"::1", 80});
    expect_parsed(tofu::parse_address("tcp| [fe80::1] |443", tofu::AddressRole::server),
                  tofu::TcpServerAddress{"fe80::1", 443});
}

TEST(AddressParse, UnbracketedIpv6ColonsAreNotSeparators) {
    expect_parsed(tofu::parse_address("tcp|fe80::1|7099", tofu::AddressRole::client),
                  tofu::TcpClientAddress{"fe80::1", 7099});
    expect_parsed(tofu::parse_address("tcp|2001:db8::ff00:42:8329|1", tofu::AddressRole::client),
                  tofu::TcpClientAddress{"2001:db8::ff00:42:8329", 1});
}

TEST(AddressParse, UdsPathMayHoldBars) {
    expect_parsed(tofu::parse_address("uds|/tmp/a|b", tofu::AddressRole::client),
                  tofu::UdsClientAddress{"/tmp/a|b"});
    expect_parsed(tofu::parse_address("uds||lead", tofu::AddressRole::server),
                  tofu::UdsServerAddress{"|lead"});
}

TEST(AddressParse, PortBounds) {
    expect_parsed(tofu::parse_address("tcp|h|65535", tofu::AddressRole::client),
                  tofu::TcpClientAddress{"h", 65535});
    expect_parsed(tofu::parse_address("tcp|h|1", tofu::AddressRole::client), tofu::TcpClientAddress{"h", 1});
    expect_parsed(tofu::parse_address("tcp|h|65535", tofu::AddressRole::server),
                  tofu::TcpServerAddress{"h", 65535});
}

TEST(AddressParse, PortZeroIsFineForAServer) {
    expect_parsed(tofu::parse_address("tcp|0.0.0.0|0", tofu::AddressRole::server),
                  tofu::TcpServerAddress{"0.0.0.0", 0});
}

TEST(AddressParse, ExactMaxPathLengthIsAccepted) {
    const std::string path = path_of_length(tofu::max_uds_path_length);
    ASSERT_EQ(path.size(), tofu::max_uds_path_length);
    expect_parsed(tofu::parse_address("uds|" + path, tofu::AddressRole::client),
                  tofu::UdsClientAddress{path});
    expect_parsed(tofu::parse_address("uds|" + path, tofu::AddressRole::server),
                  tofu::UdsServerAddress{path});
}

TEST(AddressParse, PathOneByteTooLongNamesTheLimit) {
    const tofu::ParsedAddress parsed = tofu::parse_address(
        "uds|" + path_of_length(tofu::max_uds_path_length + 1), tofu::AddressRole::client);
    EXPECT_EQ(parsed.status, tofu::AmpeStatus::invalid_address);
    const std::string limit = "at most " + std::to_string(tofu::max_uds_path_length) + " bytes";
    EXPECT_NE(std::string{parsed.reason}.find(limit), std::string::npos) << parsed.reason;
}

TEST(AddressParse, TrimmingDoesNotCountTowardsThePathLimit) {
    const std::string path = path_of_length(tofu::max_uds_path_length);
    expect_parsed(tofu::parse_address("uds|  " + path + "  ", tofu::AddressRole::client),
                  tofu::UdsClientAddress{path});
}

TEST(AddressParse, AbstractNameDependsOnThePlatform) {
    const tofu::ParsedAddress parsed = tofu::parse_address("uds|@name", tofu::AddressRole::client);
    if constexpr (tofu::has_abstract_uds) {
        expect_parsed(parsed, tofu::UdsClientAddress{"@name"});
        expect_parsed(tofu::parse_address("uds|@name", tofu::AddressRole::server),
                      tofu::UdsServerAddress{"@name"});
    } else {
        expect_invalid(parsed);
        expect_invalid(tofu::parse_address("uds|@name", tofu::AddressRole::server));
    }
}

TEST(AddressParse, AbstractNameOfMaxLengthIsAcceptedOnLinux) {
    if constexpr (tofu::has_abstract_uds) {
        std::string name(tofu::max_uds_path_length, 'n');
        name.front() = '@';
        expect_parsed(tofu::parse_address("uds|" + name, tofu::AddressRole::client),
                      tofu::UdsClientAddress{name});
        expect_invalid(tofu::parse_address("uds|" + name + "n", tofu::AddressRole::client));
    } else {
        GTEST_SKIP() << "no abstract UDS namespace on this OS";
    }
}

TEST(AddressParse, ResultIsIndependentOfTheInputBuffer) {
    std::string value = "tcp|example.org|8080";
    const tofu::ParsedAddress parsed = tofu::parse_address(value, tofu::AddressRole::client);
    value.assign(value.size(), 'x');
    expect_parsed(parsed, tofu::TcpClientAddress{"example.org", 8080});
}

// --- parse_address(value, role): malformed values ------------------------------------------------

/// Which roles a malformed value is rejected for.
enum class RejectedFor : std::uint8_t { both, client_only };

struct MalformedCase {
    std::string name;
    std::string value;
    RejectedFor rejected_for = RejectedFor::both;
};

std::vector<MalformedCase> malformed_cases() {
    std::vector<MalformedCase> cases{
        {"EmptyString", ""},
        {"SpacesOnly", "   "},
        {"TabsAndSpacesOnly", " \t \t"},
        {"UnknownSchemeUdp", "udp|1.2.3.4|5"},
        {"UppercaseSchemeTcp", "TCP|1.2.3.4|5"},
        {"UppercaseSchemeUds", "UDS|/tmp/a.sock"},
        {"EmptyScheme", "|1.2.3.4|5"},
        {"SchemeWithoutSeparator", "tcp1.2.3.4"},
        {"TcpSchemeOnly", "tcp"},
        {"UdsSchemeOnly", "uds"},
        {"TcpSchemeAndSeparatorOnly", "tcp|"},
        {"MissingPort", "tcp|127.0.0.1"},
        {"EmptyHost", "tcp||7099"},
        {"BlankHost", "tcp| |7099"},
        {"EmptyBracketedHost", "tcp|[]|7099"},
        {"HostWithInnerSpace", "tcp|local host|7099"},
        {"HostWithNul", std::string("tcp|lo\0calhost|7099", 19)},
        {"HostWithControlCharacter", "tcp|local\x01host|7099"},
        {"HostWithBracketsInside", "tcp|[[::1]]|7099"},  // found by fuzz_address: "[::1]" printed
        {"HostWithOneBracket", "tcp|[::1|7099"},
        {"EmptyPort", "tcp|h|"},
        {"BlankPort", "tcp|h|  "},
        {"NonNumericPort", "tcp|h|x"},
        {"PortWithTrailingLetters", "tcp|h|12a"},
        {"NegativePort", "tcp|h|-1"},
        {"PlusSignedPort", "tcp|h|+1"},
        {"PortWithInnerSpace", "tcp|h| 7 0"},
        {"HexPort", "tcp|h|0x50"},
        {"FractionalPort", "tcp|h|80.0"},
        {"Port65536", "tcp|h|65536"},
        {"PortHuge", "tcp|h|99999999999999999999"},
        {"PortZeroForClient", "tcp|h|0", RejectedFor::client_only},
        {"ExtraField", "tcp|h|1|2"},
        {"ExtraEmptyField", "tcp|h|1|"},
        {"EmptyUdsPath", "uds|"},
        {"BlankUdsPath", "uds|   "},
        {"UdsPathTooLong", "uds|" + path_of_length(tofu::max_uds_path_length + 1)},
        {"UdsPathWithNul", std::string("uds|/tmp/a\0b.sock", 17)},
        {"UdsPathOnlyNul", std::string("uds|\0", 5)},
        {"AbstractNameAlone", "uds|@"},
        {"AbstractNameAloneWithBlanks", "uds| @ "},
    };
    if constexpr (!tofu::has_abstract_uds) {
        cases.push_back({"AbstractNameWithoutAbstractNamespace", "uds|@name"});
    }
    return cases;
}

class AddressMalformedTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(AddressMalformedTest, RejectedAsClient) {
    expect_invalid(tofu::parse_address(GetParam().value, tofu::AddressRole::client));
}

TEST_P(AddressMalformedTest, RejectedAsServerUnlessClientOnly) {
    const tofu::ParsedAddress parsed = tofu::parse_address(GetParam().value, tofu::AddressRole::server);
    if (GetParam().rejected_for == RejectedFor::both) {
        expect_invalid(parsed);
    } else {
        EXPECT_TRUE(static_cast<bool>(parsed)) << describe(parsed);
    }
}

TEST_P(AddressMalformedTest, RejectedInAHelloRequest) {
    const tofu::MessagePtr msg =
        message_with(tofu::OpCode::hello_request, tofu::header::connect_to, GetParam().value);
    expect_invalid(tofu::parse_address(*msg));
}

INSTANTIATE_TEST_SUITE_P(Address, AddressMalformedTest, ::testing::ValuesIn(malformed_cases()),
                         case_name<MalformedCase>);

TEST(AddressMalformedTable, NulCaseReallyHoldsANul) {
    // Guards the table against a literal that silently stops at the NUL.
    const std::string value("uds|/tmp/a\0b.sock", 17);
    EXPECT_EQ(value.size(), 17U);
    EXPECT_EQ(value[10], '\0');
    EXPECT_EQ(value.back(), 'k');
}

TEST(AddressMalformedTable, TooLongPathIsOneByteOverTheLimit) {
    EXPECT_EQ(path_of_length(tofu::max_uds_path_length + 1).size(), tofu::max_uds_path_length + 1);
}

TEST(AddressMalformed, PortZeroReasonDiffersFromAnAcceptedServer) {
    const tofu::ParsedAddress client = tofu::parse_address("tcp|h|0", tofu::AddressRole::client);
    const tofu::ParsedAddress server = tofu::parse_address("tcp|h|0", tofu::AddressRole::server);
    expect_invalid(client);
    expect_parsed(server, tofu::TcpServerAddress{"h", 0});
}

// --- parse_address(const Message&) ---------------------------------------------------------------

TEST(AddressParseMessage, OtherOpCodesAreRejected) {
    for (const tofu::OpCode op :
         {tofu::OpCode::request, tofu::OpCode::response, tofu::OpCode::signal, tofu::OpCode::hello_response,
          tofu::OpCode::bye_request, tofu::OpCode::bye_response, tofu::OpCode::bye_signal,
          static_cast<tofu::OpCode>(10), static_cast<tofu::OpCode>(15)}) {
        SCOPED_TRACE(std::string{tofu::op_code_name(op)});
        const tofu::MessagePtr connect = message_with(op, tofu::header::connect_to, "tcp|127.0.0.1|7099");
        expect_invalid(tofu::parse_address(*connect));
        const tofu::MessagePtr listen = message_with(op, tofu::header::listen_on, "tcp|0.0.0.0|7099");
        expect_invalid(tofu::parse_address(*listen));
    }
}

TEST(AddressParseMessage, FreshMessageIsRejected) {
    const tofu::MessagePtr msg = tofu::Message::create();
    expect_invalid(tofu::parse_address(*msg));
}

TEST(AddressParseMessage, HelloRequestWithoutConnectToIsRejected) {
    tofu::MessagePtr msg = tofu::Message::create();
    msg->bhdr.proto.op_code = tofu::OpCode::hello_request;
    expect_invalid(tofu::parse_address(*msg));
    msg->thdrs.append("app", "tcp|127.0.0.1|7099");
    expect_invalid(tofu::parse_address(*msg));
}

TEST(AddressParseMessage, HelloRequestWithOnlyListenOnIsRejected) {
    const tofu::MessagePtr msg =
        message_with(tofu::OpCode::hello_request, tofu::header::listen_on, "tcp|127.0.0.1|7099");
    expect_invalid(tofu::parse_address(*msg));
}

TEST(AddressParseMessage, WelcomeRequestWithOnlyConnectToIsRejected) {
    const tofu::MessagePtr msg =
        message_with(tofu::OpCode::welcome_request, tofu::header::connect_to, "tcp|127.0.0.1|7099");
    expect_invalid(tofu::parse_address(*msg));
}

TEST(AddressParseMessage, WelcomeRequestWithoutHeadersIsRejected) {
    tofu::MessagePtr msg = tofu::Message::create();
    msg->bhdr.proto.op_code = tofu::OpCode::welcome_request;
    expect_invalid(tofu::parse_address(*msg));
}

TEST(AddressParseMessage, MalformedConnectToIsRejected) {
    const tofu::MessagePtr msg =
        message_with(tofu::OpCode::hello_request, tofu::header::connect_to, "tcp|127.0.0.1|not-a-port");
    expect_invalid(tofu::parse_address(*msg));
}

TEST(AddressParseMessage, MalformedListenOnIsRejected) {
    const tofu::MessagePtr msg = message_with(tofu::OpCode::welcome_request, tofu::header::listen_on, "uds|");
    expect_invalid(tofu::parse_address(*msg));
}

TEST(AddressParseMessage, HelloRequestUsesClientRules) {
    const tofu::MessagePtr msg =
        message_with(tofu::OpCode::hello_request, tofu::header::connect_to, "tcp|h|0");
    expect_invalid(tofu::parse_address(*msg));
}

TEST(AddressParseMessage, WelcomeRequestUsesServerRules) {
    const tofu::MessagePtr msg =
        message_with(tofu::OpCode::welcome_request, tofu::header::listen_on, "tcp|h|0");
    expect_parsed(tofu::parse_address(*msg), tofu::TcpServerAddress{"h", 0});
}

TEST(AddressParseMessage, HeaderNameIsCaseInsensitive) {
    const tofu::MessagePtr hello =
        message_with(tofu::OpCode::hello_request, "~CONNECT_TO", "tcp|127.0.0.1|7099");
    expect_parsed(tofu::parse_address(*hello), tofu::TcpClientAddress{"127.0.0.1", 7099});
    const tofu::MessagePtr welcome =
        message_with(tofu::OpCode::welcome_request, "~Listen_On", "uds|/tmp/a.sock");
    expect_parsed(tofu::parse_address(*welcome), tofu::UdsServerAddress{"/tmp/a.sock"});
}

TEST(AddressParseMessage, TheFirstMatchingHeaderWins) {
    tofu::MessagePtr msg = tofu::Message::create();
    tofu::TcpClientAddress{"first", 1}.format(*msg);
    tofu::TcpClientAddress{"second", 2}.format(*msg);
    expect_parsed(tofu::parse_address(*msg), tofu::TcpClientAddress{"first", 1});
}

TEST(AddressParseMessage, OtherHeadersAreIgnored) {
    tofu::MessagePtr msg = tofu::Message::create();
    msg->thdrs.append("app", "value");
    msg->thdrs.append(tofu::header::listen_on, "tcp|0.0.0.0|1");
    tofu::UdsClientAddress{"/tmp/c.sock"}.format(*msg);
    msg->thdrs.append("other", "tcp|x|2");
    expect_parsed(tofu::parse_address(*msg), tofu::UdsClientAddress{"/tmp/c.sock"});
}

TEST(AddressParseMessage, RawHeadersWithSpacesAndBareLfAreRead) {
    tofu::MessagePtr msg = tofu::Message::create();
    msg->bhdr.proto.op_code = tofu::OpCode::hello_request;
    const std::string_view raw = "x:y\n  ~connect_to :  tcp|::1|7099  \n";
    msg->thdrs.assign_raw(std::as_bytes(std::span{raw}));
    expect_parsed(tofu::parse_address(*msg), tofu::TcpClientAddress{"::1", 7099});
}

TEST(AddressFromMessage, WelcomeResponseGivesTheBoundAddress) {
    const tofu::MessagePtr ready = tofu::Message::create();
    ready->bhdr.proto.op_code = tofu::OpCode::welcome_response;
    ready->thdrs.append(tofu::header::listen_on, "tcp|127.0.0.1|40123");
    const tofu::ParsedAddress bound = tofu::parse_address(*ready);
    ASSERT_TRUE(bound) << bound.reason;
    EXPECT_EQ(std::get<tofu::TcpServerAddress>(bound.address), (tofu::TcpServerAddress{"127.0.0.1", 40123}));

    const tofu::MessagePtr bare = tofu::Message::create();
    bare->bhdr.proto.op_code = tofu::OpCode::welcome_response;
    EXPECT_EQ(tofu::parse_address(*bare).status, tofu::AmpeStatus::invalid_address);
}

}  // namespace

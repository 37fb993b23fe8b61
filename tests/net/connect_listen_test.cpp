// Listening and connecting (channel_group.hpp, DESIGN.md sections 3 and 5): the WelcomeResponse
// and its `~listen_on`, every failure a WelcomeRequest or HelloRequest can come back with
// (`invalid_address`, `connect_failed`, `uds_path_not_found`, `listen_failed`) followed by
// `channel_closed`, several listeners in one group, and closing a listener.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>
#include <tofu/testing.hpp>

#include "net/native_socket.hpp"
#include "support/engine_helpers.hpp"

namespace tofu::test {
namespace {

/// Waits for `op` coming back on `channel` with origin engine and `status`, then for the channel's
/// `channel_closed`; checks the order and returns the returned request.
MessagePtr expect_failure_then_closed(ChannelGroup& group, OpCode op, std::uint16_t channel,
                                      const std::set<AmpeStatus>& statuses) {
    MessagePtr back = wait_for(
        group,
        [&](const Message& m) {
            return m.bhdr.channel_number == channel &&
                   (m.bhdr.proto.op_code == op || is_any_channel_closed(m));
        },
        std::string{op_code_name(op)} + " coming back on channel " + std::to_string(channel));
    EXPECT_EQ(back->bhdr.proto.op_code, op)
        << "channel_closed came before the failed request: " << describe(*back);
    EXPECT_TRUE(back->is_from_engine()) << describe(*back);
    std::string expected;
    for (const AmpeStatus s : statuses) {
        expected += std::string{status_name(s)} + " ";
    }
    EXPECT_EQ(statuses.count(back->bhdr.status), 1U)
        << "expected one of: " << expected << "got " << describe(*back);
    if (back->bhdr.proto.op_code != op) {
        return back;
    }
    MessagePtr closed = wait_channel_closed(group, channel);
    EXPECT_FALSE(reason_of(*closed).empty()) << "channel_closed without ~reason: " << describe(*closed);
    return back;
}

/// Posts a HelloRequest whose `~connect_to` is `value` (not necessarily valid), with a marker header
/// and body. Returns the posted header.
BinaryHeader post_raw_hello(Ampe& ampe, ChannelGroup& group, std::string_view value) {
    MessagePtr hello = make_message(ampe, OpCode::hello_request, unassigned_channel, 0, "hello body");
    hello->thdrs.append(header::connect_to, value);
    hello->thdrs.append("x-marker", "kept");
    return group.post(hello);
}

/// Posts a WelcomeRequest whose `~listen_on` is `value` (not necessarily valid).
BinaryHeader post_raw_welcome(Ampe& ampe, ChannelGroup& group, std::string_view value) {
    MessagePtr welcome = make_message(ampe, OpCode::welcome_request, unassigned_channel);
    welcome->thdrs.append(header::listen_on, value);
    return group.post(welcome);
}

BinaryHeader post_welcome(Ampe& ampe, ChannelGroup& group, const Address& address) {
    MessagePtr welcome = ampe.get(AllocationStrategy::always);
    format(*welcome, address);
    return group.post(welcome);
}

BinaryHeader post_hello(Ampe& ampe, ChannelGroup& group, const Address& to) {
    MessagePtr hello = hello_message(ampe, to);
    return group.post(hello);
}

// --- connect failures ----------------------------------------------------------------------------

TEST(Connect, MalformedAddressComesBackAsInvalidAddressThenChannelClosed) {
    std::unique_ptr<Reactor> engine = Reactor::create(Options{});
    ChannelGroupPtr group = engine->create();
    const std::vector<std::string> malformed{
        "tcp|127.0.0.1|0",    "tcp|127.0.0.1|65536",
        "tcp|127.0.0.1|port", "tcp||7099",
        "tcp|127.0.0.1",      "tcp|127.0.0.1|1|2",
        "udp|127.0.0.1|7099", "uds|",
        "nonsense",           "uds|" + std::string(300, 'p'),
    };
    for (const std::string& value : malformed) {
        SCOPED_TRACE("~connect_to:" + value);
        BinaryHeader posted;
        try {
            posted = post_raw_hello(*engine, *group, value);
        } catch (const Error& e) {
            ADD_FAILURE() << "post refused a HelloRequest with a malformed address (" << e.what()
                          << "); the contract says it comes back through wait_receive";
            continue;
        }
        ASSERT_NE(posted.channel_number, unassigned_channel);
        MessagePtr back = expect_failure_then_closed(*group, OpCode::hello_request, posted.channel_number,
                                                     {AmpeStatus::invalid_address});
        // "The HelloRequest comes back": it is the same message, headers and body intact.
        EXPECT_EQ(back->bhdr.message_id, posted.message_id);
        EXPECT_EQ(back->thdrs.find("x-marker"), std::optional<std::string_view>{"kept"}) << describe(*back);
        EXPECT_EQ(back->body.text(), "hello body");
    }
}

TEST(Connect, NoListenerOnTheTcpPortFailsWithConnectFailed) {
    std::unique_ptr<Reactor> engine = Reactor::create(Options{});
    ChannelGroupPtr group = engine->create();
    const std::uint16_t port = tofu::testing::find_free_tcp_port();
    const BinaryHeader posted = post_hello(*engine, *group, TcpClientAddress{"127.0.0.1", port});
    (void)expect_failure_then_closed(*group, OpCode::hello_request, posted.channel_number,
                                     {AmpeStatus::connect_failed});
}

TEST(Connect, MissingUdsPathFailsWithUdsPathNotFound) {
    if (const auto why = transport_unavailable(Transport::uds_path)) {
        GTEST_SKIP() << *why;
    }
    std::unique_ptr<Reactor> engine = Reactor::create(Options{});
    ChannelGroupPtr group = engine->create();
    const BinaryHeader posted = post_hello(*engine, *group, UdsClientAddress{temp_socket_path()});
    (void)expect_failure_then_closed(*group, OpCode::hello_request, posted.channel_number,
                                     {AmpeStatus::uds_path_not_found});
}

TEST(Connect, UdsPathThatIsNotASocketFailsWithConnectFailed) {
    if (const auto why = transport_unavailable(Transport::uds_path)) {
        GTEST_SKIP() << *why;
    }
    // The path exists (so it is not "not found"), but nobody listens there.
    const std::string path = temp_socket_path();
    {
        std::ofstream file{path};
        file << "not a socket";
    }
    std::unique_ptr<Reactor> engine = Reactor::create(Options{});
    ChannelGroupPtr group = engine->create();
    const BinaryHeader posted = post_hello(*engine, *group, UdsClientAddress{path});
    (void)expect_failure_then_closed(*group, OpCode::hello_request, posted.channel_number,
                                     {AmpeStatus::connect_failed});
}

TEST(Connect, AbstractNameWithoutListenerFailsWithConnectFailed) {
    if (!has_abstract_uds) {
        GTEST_SKIP() << "no abstract UDS namespace on this OS";
    }
    std::unique_ptr<Reactor> engine = Reactor::create(Options{});
    ChannelGroupPtr group = engine->create();
    const BinaryHeader posted =
        post_hello(*engine, *group, UdsClientAddress{tofu::testing::temp_abstract_name("tofu-nobody")});
    (void)expect_failure_then_closed(*group, OpCode::hello_request, posted.channel_number,
                                     {AmpeStatus::connect_failed});
}

TEST(Connect, MessagesPostedBehindAFailedHelloComeBack) {
    // "Nothing is lost silently": Requests posted right after a Hello that fails either are refused
    // by post (the channel already closed) or come back with origin engine, in order, before
    // channel_closed.
    std::unique_ptr<Reactor> engine = Reactor::create(Options{});
    ChannelGroupPtr group = engine->create();
    const std::uint16_t port = tofu::testing::find_free_tcp_port();
    const BinaryHeader hello = post_hello(*engine, *group, TcpClientAddress{"127.0.0.1", port});
    std::vector<std::uint64_t> accepted;
    for (std::uint64_t id = 1001; id <= 1005; ++id) {
        MessagePtr msg = make_message(*engine, OpCode::request, hello.channel_number, id, "queued");
        try {
            (void)group->post(msg);
            accepted.push_back(id);
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), AmpeStatus::invalid_channel_number) << e.what();
        }
    }
    std::vector<MessagePtr> before_close;
    MessagePtr closed = wait_channel_closed(*group, hello.channel_number, &before_close);
    bool hello_back = false;
    std::vector<std::uint64_t> returned;
    for (const MessagePtr& m : before_close) {
        if (m->bhdr.channel_number != hello.channel_number) {
            continue;
        }
        EXPECT_TRUE(m->is_from_engine()) << describe(*m);
        if (m->bhdr.proto.op_code == OpCode::hello_request) {
            hello_back = true;
            EXPECT_EQ(m->bhdr.status, AmpeStatus::connect_failed) << describe(*m);
        } else if (m->bhdr.proto.op_code == OpCode::request) {
            EXPECT_NE(m->bhdr.status, AmpeStatus::success) << describe(*m);
            EXPECT_EQ(m->body.text(), "queued");
            returned.push_back(m->bhdr.message_id);
        }
    }
    EXPECT_TRUE(hello_back) << "the HelloRequest did not come back before channel_closed";
    EXPECT_EQ(returned, accepted) << "every accepted Request must come back, in order, before channel_closed";
}

// --- listen --------------------------------------------------------------------------------------

class ListenTest : public ::testing::TestWithParam<Transport> {
protected:
    void SetUp() override {
        if (const auto why = transport_unavailable(GetParam())) {
            GTEST_SKIP() << *why;
        }
        engine_ = Reactor::create(Options{});
        server_ = engine_->create();
        client_ = engine_->create();
    }

    std::unique_ptr<Reactor> engine_;
    ChannelGroupPtr server_;
    ChannelGroupPtr client_;
};

TEST_P(ListenTest, WelcomeResponseReportsTheBoundAddress) {
    const Address requested = server_address(GetParam());
    const Listener listener = start_listener(*engine_, *server_, requested);
    const Address bound = server_address_from(listener.listen_on);
    if (const auto* tcp = std::get_if<TcpServerAddress>(&requested)) {
        const auto* bound_tcp = std::get_if<TcpServerAddress>(&bound);
        ASSERT_NE(bound_tcp, nullptr) << listener.listen_on;
        EXPECT_NE(bound_tcp->port, 0) << "port 0 must read back as the port the OS chose";
        EXPECT_EQ(bound_tcp->ip, tcp->ip) << listener.listen_on;
    } else {
        EXPECT_TRUE(bound == requested) << "a UDS listener reads back its own path: " << listener.listen_on;
    }
    // The address is real: a client reaches it.
    const Connection connection = establish(*engine_, *client_, *server_, listener.client_address);
    round_trip(*engine_, *client_, *server_, connection, "listen");
}

TEST_P(ListenTest, SecondListenerOnALiveAddressFailsWithListenFailed) {
    const Listener first = start_listener(*engine_, *server_, GetParam());
    // The same address again, with the port the OS chose: it is in use by a live tofu listener.
    const Address again = server_address_from(first.listen_on);
    const BinaryHeader posted = post_welcome(*engine_, *server_, again);
    (void)expect_failure_then_closed(*server_, OpCode::welcome_response, posted.channel_number,
                                     {AmpeStatus::listen_failed});

    // The first listener was not disturbed (a UDS listener must not have its socket file replaced).
    const Connection connection = establish(*engine_, *client_, *server_, first.client_address);
    round_trip(*engine_, *client_, *server_, connection, "first listener still serves");
}

TEST_P(ListenTest, SameAddressInAnotherEngineFailsWithListenFailed) {
    const Listener first = start_listener(*engine_, *server_, GetParam());
    std::unique_ptr<Reactor> other = Reactor::create(Options{});
    ChannelGroupPtr other_group = other->create();
    const BinaryHeader posted = post_welcome(*other, *other_group, server_address_from(first.listen_on));
    (void)expect_failure_then_closed(*other_group, OpCode::welcome_response, posted.channel_number,
                                     {AmpeStatus::listen_failed});
    const Connection connection = establish(*engine_, *client_, *server_, first.client_address);
    round_trip(*engine_, *client_, *server_, connection, "first engine's listener still serves");
}

TEST_P(ListenTest, ByeSignalClosesTheListener) {
    const Listener listener = start_listener(*engine_, *server_, GetParam());
    MessagePtr bye = make_message(*engine_, OpCode::bye_signal, listener.channel);
    (void)server_->post(bye);
    MessagePtr closed = wait_channel_closed(*server_, listener.channel);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::shutdown_started)) << describe(*closed);

    // Nobody listens there any more. A UDS path may or may not still exist as a file.
    std::set<AmpeStatus> expected{AmpeStatus::connect_failed};
    if (GetParam() == Transport::uds_path) {
        expected.insert(AmpeStatus::uds_path_not_found);
    }
    const BinaryHeader hello = post_hello(*engine_, *client_, listener.client_address);
    (void)expect_failure_then_closed(*client_, OpCode::hello_request, hello.channel_number, expected);
}

INSTANTIATE_TEST_SUITE_P(Transports, ListenTest, ::testing::ValuesIn(all_transports()), transport_test_name);

TEST(Listen, MalformedAddressComesBackAsInvalidAddressThenChannelClosed) {
    std::unique_ptr<Reactor> engine = Reactor::create(Options{});
    ChannelGroupPtr group = engine->create();
    const std::vector<std::string> malformed{
        "tcp|127.0.0.1|65536",
        "tcp|127.0.0.1|x",
        "tcp||0",
        "tcp|127.0.0.1",
        "tcp|127.0.0.1|1|2",
        "sctp|127.0.0.1|1",
        "uds|",
        "garbage",
        "uds|" + std::string(300, 'p'),
    };
    for (const std::string& value : malformed) {
        SCOPED_TRACE("~listen_on:" + value);
        BinaryHeader posted;
        try {
            posted = post_raw_welcome(*engine, *group, value);
        } catch (const Error& e) {
            ADD_FAILURE() << "post refused a WelcomeRequest with a malformed address (" << e.what()
                          << "); the contract says the WelcomeResponse reports it";
            continue;
        }
        (void)expect_failure_then_closed(*group, OpCode::welcome_response, posted.channel_number,
                                         {AmpeStatus::invalid_address});
    }
}

TEST(Listen, TcpAddressNotOnThisHostFailsWithListenFailed) {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never assigned to a real interface, so bind fails.
    std::unique_ptr<Reactor> engine = Reactor::create(Options{});
    ChannelGroupPtr group = engine->create();
    const BinaryHeader posted = post_welcome(*engine, *group, TcpServerAddress{"192.0.2.1", 0});
    (void)expect_failure_then_closed(*group, OpCode::welcome_response, posted.channel_number,
                                     {AmpeStatus::listen_failed});
}

TEST(Listen, UdsPathInAMissingDirectoryFailsWithUdsPathNotFound) {
    if (const auto why = transport_unavailable(Transport::uds_path)) {
        GTEST_SKIP() << *why;
    }
    const std::string path = temp_socket_path() + "/s";
    if (path.size() > max_uds_path_length) {
        GTEST_SKIP() << "the temporary directory's path is too long for this test: " << path;
    }
    std::unique_ptr<Reactor> engine = Reactor::create(Options{});
    ChannelGroupPtr group = engine->create();
    const BinaryHeader posted = post_welcome(*engine, *group, UdsServerAddress{path});
    (void)expect_failure_then_closed(*group, OpCode::welcome_response, posted.channel_number,
                                     {AmpeStatus::uds_path_not_found});
}

TEST(Listen, StaleUdsSocketFileIsReplaced) {
    if (const auto why = transport_unavailable(Transport::uds_path)) {
        GTEST_SKIP() << *why;
    }
    // A socket file left behind by a listener that is gone: bind it, close it, keep the file.
    const std::string path = temp_socket_path();
    {
        const auto fd = static_cast<int>(::socket(AF_UNIX, SOCK_STREAM, 0));
        ASSERT_GE(fd, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        ASSERT_LT(path.size(), sizeof addr.sun_path);
        std::memcpy(static_cast<char*>(addr.sun_path), path.data(), path.size());
        const int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
        detail::native::close_socket(fd);
        ASSERT_EQ(rc, 0) << "could not make the stale socket file";
    }
    std::unique_ptr<Reactor> engine = Reactor::create(Options{});
    ChannelGroupPtr server = engine->create();
    ChannelGroupPtr client = engine->create();
    const Listener listener = start_listener(*engine, *server, UdsServerAddress{path});
    const Connection connection = establish(*engine, *client, *server, listener.client_address);
    round_trip(*engine, *client, *server, connection, "stale file replaced");
}

TEST(Listen, SeveralListenersInOneGroupEachServeAClient) {
    std::unique_ptr<Reactor> server_engine = Reactor::create(Options{});
    std::unique_ptr<Reactor> client_engine = Reactor::create(Options{});
    ChannelGroupPtr server = server_engine->create();

    std::vector<Listener> listeners;
    std::set<std::uint16_t> server_channels;
    for (const Transport transport : all_transports()) {
        if (transport_unavailable(transport)) {
            continue;
        }
        listeners.push_back(start_listener(*server_engine, *server, transport));
        EXPECT_TRUE(server_channels.insert(listeners.back().channel).second)
            << "two listeners share channel " << listeners.back().channel;
    }
    ASSERT_GE(listeners.size(), 2U) << "TCP and UDS at least";

    std::vector<ChannelGroupPtr> clients;
    std::vector<Connection> connections;
    for (const Listener& listener : listeners) {
        SCOPED_TRACE("listener " + listener.listen_on);
        clients.push_back(client_engine->create());
        connections.push_back(establish(*client_engine, *clients.back(), *server, listener.client_address));
        EXPECT_TRUE(server_channels.insert(connections.back().server).second)
            << "the accepted channel " << connections.back().server << " reuses an open channel's number";
    }
    // Every connection works and stays separate: each round trip lands on its own channel.
    for (std::size_t i = 0; i < connections.size(); ++i) {
        round_trip(*client_engine, *clients[i], *server, connections[i], "via " + listeners[i].listen_on);
    }
    for (std::size_t i = 0; i < connections.size(); ++i) {
        close_gracefully(*client_engine, *clients[i], connections[i].client, *server, connections[i].server);
    }
}

}  // namespace
}  // namespace tofu::test

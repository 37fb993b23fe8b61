// A client's connect, from its HelloRequest to its HelloResponse (DESIGN.md section 10): the
// connect timeout (`Options::connect_timeout`, the `~connect_timeout` header), the HelloRequest kept
// until its HelloResponse and returned whole when none comes, the engine's `~` headers kept off the
// wire, and host names looked up off the engine thread (a failure says why; destroying the engine
// during a lookup does not wait for it).
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
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

#include "support/engine_helpers.hpp"

namespace tofu::test {
namespace {

using namespace std::chrono_literals;

/// A connect timeout short enough for a test to wait for it.
constexpr std::chrono::milliseconds short_timeout{200};

constexpr std::size_t hello_body_size = 3000;
constexpr std::uint64_t hello_body_seed = 28;

/// A HelloRequest to `to` with an application header, a patterned body and, when given, a
/// `~connect_timeout`.
MessagePtr app_hello(Ampe& engine, const Address& to, std::optional<std::string_view> connect_timeout = {}) {
    MessagePtr hello = hello_message(engine, to);
    hello->thdrs.append("x-app", "kept");
    if (connect_timeout) {
        hello->thdrs.append(header::connect_timeout, *connect_timeout);
    }
    hello->body.copy(pattern_bytes(hello_body_size, hello_body_seed));
    return hello;
}

/// Checks a HelloRequest that came back: origin engine, `status`, everything the application
/// posted in it (`~connect_to` included), and a `~detail` saying why (a failure's; a ByeSignal
/// needs no words).
void expect_whole_hello_back(const Message& back, const BinaryHeader& posted, const Address& to,
                             AmpeStatus status) {
    const bool failed = status != AmpeStatus::shutdown_started;
    EXPECT_EQ(back.bhdr.proto.op_code, OpCode::hello_request) << describe(back);
    EXPECT_TRUE(back.is_from_engine()) << describe(back);
    EXPECT_EQ(back.bhdr.status, status) << describe(back);
    EXPECT_EQ(back.bhdr.channel_number, posted.channel_number);
    EXPECT_EQ(back.bhdr.message_id, posted.message_id);
    EXPECT_EQ(header_value(back, "x-app"), "kept");
    EXPECT_EQ(header_value(back, header::connect_to), to_string(to));
    EXPECT_TRUE(matches_pattern(back.body.data(), hello_body_size, hello_body_seed)) << describe(back);
    if (failed) {
        EXPECT_NE(header_value(back, header::detail), "<missing>") << describe(back);
    }
    EXPECT_FALSE(back.thdrs.find("~confirm")) << "the engine's offer leaked: " << back.thdrs.text();
}

/// Everything `channel` reports up to its `channel_closed`: the messages before it and the report.
struct Ending {
    std::vector<MessagePtr> before;  ///< only those of `channel`
    MessagePtr closed;
};

Ending wait_ending(ChannelGroup& group, std::uint16_t channel) {
    Ending e;
    std::vector<MessagePtr> skipped;
    e.closed = wait_channel_closed(group, channel, &skipped);
    for (MessagePtr& m : skipped) {
        if (m->bhdr.channel_number == channel) {
            e.before.push_back(std::move(m));
        }
    }
    return e;
}

/// Every posted message comes back once: the HelloRequest alone, whole, and no `~unconfirmed`
/// header of it or second copy. Returns the HelloRequest that came back.
const Message& the_one_hello_back(const Ending& e) {
    EXPECT_EQ(e.before.size(), 1U) << "expected the HelloRequest alone before channel_closed";
    if (e.before.empty()) {
        throw TestFailure{"nothing came back before channel_closed"};
    }
    for (const MessagePtr& m : e.before) {
        EXPECT_EQ(m->bhdr.proto.op_code, OpCode::hello_request) << describe(*m);
        EXPECT_FALSE(m->thdrs.find(header::unconfirmed)) << describe(*m);
    }
    return *e.before.front();
}

/// The HelloRequest frame a raw server reads, with the HelloResponse it answers.
class RawServer {
public:
    /// Accepts the client's connection and reads its HelloRequest frame.
    RawFrame accept_hello() {
        peer_ = listener_.accept();
        std::optional<RawFrame> hello = peer_->read_frame();
        if (!hello || hello->header.proto.op_code != OpCode::hello_request) {
            throw TestFailure{"the raw server did not read a HelloRequest first"};
        }
        hello_id_ = hello->header.message_id;
        return *hello;
    }

    /// Accepts the client's connection and reads its HelloRequest, if the client did not give up
    /// first (a connect timeout shorter than a loaded machine's connect): the test does not depend
    /// on which.
    void accept_hello_if_written() {
        peer_ = listener_.accept();
        (void)peer_->read_frame();
    }

    /// Answers the HelloRequest read (a server that does not confirm).
    void answer() {
        BinaryHeader response;
        response.proto.op_code = OpCode::hello_response;
        response.message_id = hello_id_;
        if (!peer_->send(encode_frame(response, {}, {}))) {
            throw TestFailure{"the client closed before the HelloResponse"};
        }
    }

    [[nodiscard]] const Address& address() const noexcept { return listener_.client_address(); }

private:
    RawListener listener_;
    std::unique_ptr<RawPeer> peer_;
    std::uint64_t hello_id_ = 0;
};

// --- the timeout ---------------------------------------------------------------------------------

TEST(ConnectTimeout, AServerThatNeverAnswersGetsTheHelloBackWholeThenChannelClosed) {
    auto engine = Reactor::create(Options{.connect_timeout = short_timeout});
    ChannelGroupPtr client = engine->create();
    RawServer server;
    MessagePtr hello = app_hello(*engine, server.address());
    const BinaryHeader posted = client->post(hello);
    server.accept_hello_if_written();  // and never answers (nor confirms)

    const Ending e = wait_ending(*client, posted.channel_number);
    const Message& back = the_one_hello_back(e);
    expect_whole_hello_back(back, posted, server.address(), AmpeStatus::connect_failed);
    EXPECT_NE(header_value(back, header::detail).find("HelloResponse"), std::string::npos) << describe(back);
    EXPECT_EQ(reason_of(*e.closed), status_name(AmpeStatus::connect_failed)) << describe(*e.closed);
    EXPECT_NE(header_value(*e.closed, header::detail).find("HelloResponse"), std::string::npos)
        << describe(*e.closed);
}

TEST(ConnectTimeout, TheHeaderShortensALongOptionTimeout) {
    auto engine = Reactor::create(Options{.connect_timeout = std::chrono::minutes{10}});
    ChannelGroupPtr client = engine->create();
    RawServer server;
    MessagePtr hello = app_hello(*engine, server.address(), std::to_string(short_timeout.count()));
    const BinaryHeader posted = client->post(hello);
    server.accept_hello_if_written();

    const Ending e = wait_ending(*client, posted.channel_number);
    expect_whole_hello_back(the_one_hello_back(e), posted, server.address(), AmpeStatus::connect_failed);
    EXPECT_EQ(header_value(*e.before.front(), header::connect_timeout),
              std::to_string(short_timeout.count()));
    EXPECT_EQ(reason_of(*e.closed), status_name(AmpeStatus::connect_failed)) << describe(*e.closed);
}

TEST(ConnectTimeout, AHeaderOfZeroOrLongerOutlastsAShortOptionTimeout) {
    for (const std::string_view value : {"0", "600000"}) {
        SCOPED_TRACE(std::string{"~connect_timeout:"} + std::string{value});
        auto engine = Reactor::create(Options{.connect_timeout = short_timeout});
        ChannelGroupPtr client = engine->create();
        RawServer server;
        MessagePtr hello = app_hello(*engine, server.address(), value);
        const BinaryHeader posted = client->post(hello);
        (void)server.accept_hello();
        // Five times the option's timeout: with the option in force, the Hello would be back.
        MessagePtr early = client->wait_receive(5 * short_timeout);
        EXPECT_EQ(early, nullptr) << "the option's timeout applied: " << describe(*early);
        server.answer();
        (void)wait_hello_response(*client, posted.channel_number);
    }
}

TEST(ConnectTimeout, ZeroInTheOptionsWaitsAsLongAsItTakes) {
    auto engine = Reactor::create(Options{.connect_timeout = 0ms});
    ChannelGroupPtr client = engine->create();
    RawServer server;
    MessagePtr hello = app_hello(*engine, server.address());
    const BinaryHeader posted = client->post(hello);
    (void)server.accept_hello();
    EXPECT_EQ(client->wait_receive(5 * short_timeout), nullptr);
    server.answer();
    (void)wait_hello_response(*client, posted.channel_number);
}

TEST(ConnectTimeout, AMalformedHeaderIsRefusedAtPost) {
    auto engine = Reactor::create(Options{});
    ChannelGroupPtr client = engine->create();
    for (const std::string_view value :
         {"", "abc", "-1", "1.5", "+5", "2147483648", "99999999999999999999"}) {
        SCOPED_TRACE(std::string{"~connect_timeout:"} + std::string{value});
        MessagePtr hello = app_hello(*engine, TcpClientAddress{"127.0.0.1", 7}, value);
        try {
            (void)client->post(hello);
            ADD_FAILURE() << "post took a HelloRequest with a malformed ~connect_timeout";
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), AmpeStatus::not_allowed) << e.what();
            EXPECT_NE(std::string{e.what()}.find("~connect_timeout"), std::string::npos) << e.what();
            ASSERT_NE(hello, nullptr) << "a refused message stays with the caller";
            EXPECT_EQ(hello->bhdr.status, AmpeStatus::not_allowed);
        }
    }
}

TEST(ConnectTimeout, ANegativeOptionIsRefused) {
    try {
        (void)Reactor::create(Options{.connect_timeout = -1ms});
        ADD_FAILURE() << "a negative connect_timeout was taken";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), AmpeStatus::not_allowed);
        EXPECT_NE(std::string{e.what()}.find("connect_timeout"), std::string::npos) << e.what();
    }
}

// --- the wire ------------------------------------------------------------------------------------

TEST(ConnectWire, TheHelloOnTheWireCarriesNoHeaderTheEngineConsumed) {
    auto engine = Reactor::create(Options{});
    ChannelGroupPtr client = engine->create();
    RawServer server;
    MessagePtr hello = app_hello(*engine, server.address(), "60000");
    const BinaryHeader posted = client->post(hello);
    const RawFrame frame = server.accept_hello();
    const std::string_view text = frame.text_headers_text();
    EXPECT_EQ(text.find("~connect_to"), std::string_view::npos) << text;
    EXPECT_EQ(text.find("~connect_timeout"), std::string_view::npos) << text;
    EXPECT_NE(text.find("x-app:kept"), std::string_view::npos) << text;
    EXPECT_NE(text.find("~confirm:1"), std::string_view::npos) << "the engine's own offer stays: " << text;
    EXPECT_EQ(frame.header.message_id, posted.message_id);
    EXPECT_TRUE(matches_pattern(frame.body, hello_body_size, hello_body_seed));

    server.answer();
    (void)wait_hello_response(*client, posted.channel_number);
    // The HelloResponse let the kept HelloRequest go: nothing comes back for it.
    for (const MessagePtr& m : until_posted_processed(*engine, *client)) {
        EXPECT_NE(m->bhdr.proto.op_code, OpCode::hello_request) << describe(*m);
    }
}

// --- connecting to tofu --------------------------------------------------------------------------

TEST(ConnectToTofu, TheKeptHelloIsCountedUntilItsResponseAndLetGoAfter) {
    auto server_engine = Reactor::create(Options{});
    auto engine = Reactor::create(Options{});
    ChannelGroupPtr server = server_engine->create();
    ChannelGroupPtr client = engine->create();
    const Listener listener = start_listener(*server_engine, *server, uds_or_tcp4());
    constexpr std::size_t big = 60000;
    MessagePtr hello = hello_message(*engine, listener.client_address);
    hello->body.copy(pattern_bytes(big, 7));
    const std::uint16_t channel = client->post(hello).channel_number;
    MessagePtr received = wait_hello_request(*server);
    EXPECT_TRUE(matches_pattern(received->body.data(), big, 7));
    // Written and read by the server, not answered yet: the client's engine still keeps a copy.
    EXPECT_GE(engine->memory().largest_channel, big);

    const std::uint16_t server_channel = accept_hello(*server, std::move(received));
    (void)wait_hello_response(*client, channel);
    EXPECT_LT(engine->memory().largest_channel, big) << "the kept HelloRequest outlived its HelloResponse";
    for (const MessagePtr& m : until_posted_processed(*engine, *client)) {
        EXPECT_NE(m->bhdr.channel_number, channel) << "nothing else comes back: " << describe(*m);
    }

    close_gracefully(*engine, *client, channel, *server, server_channel);
    // The engine's count is back to nothing (the copy was a message of its own, not the pool's:
    // a leak of it would show in the count while it was kept, and under the sanitizers' leak check).
    EXPECT_TRUE(eventually([&] {
        const EngineMemory now = engine->memory();
        return now.channels == 0 && now.channel_bytes == 0;
    })) << "the client engine still holds "
        << engine->memory().channel_bytes << " bytes";
}

// --- host names ----------------------------------------------------------------------------------

TEST(HostName, AnUnresolvableNameComesBackWithTheResolversWords) {
    auto engine = Reactor::create(Options{});
    ChannelGroupPtr client = engine->create();
    const Address to = TcpClientAddress{"no-such-host.invalid", 7099};
    MessagePtr hello = app_hello(*engine, to);
    const BinaryHeader posted = client->post(hello);

    const Ending e = wait_ending(*client, posted.channel_number);
    const Message& back = the_one_hello_back(e);
    // No such name is a bad address; a sandbox without a resolver answers "try again" (EAI_AGAIN),
    // which is a failed connect. Either way the resolver's words say why.
    const AmpeStatus status = back.bhdr.status;
    EXPECT_TRUE(status == AmpeStatus::invalid_address || status == AmpeStatus::connect_failed)
        << describe(back);
    expect_whole_hello_back(back, posted, to, status);
    EXPECT_NE(header_value(back, header::detail).find("no-such-host.invalid"), std::string::npos)
        << describe(back);
    EXPECT_EQ(reason_of(*e.closed), status_name(status)) << describe(*e.closed);
    EXPECT_NE(header_value(*e.closed, header::detail), "<missing>") << describe(*e.closed);
}

TEST(HostName, LocalhostIsLookedUpAndConnects) {
    auto server_engine = Reactor::create(Options{});
    auto engine = Reactor::create(Options{});
    ChannelGroupPtr server = server_engine->create();
    ChannelGroupPtr client = engine->create();
    const Listener listener = start_listener(*server_engine, *server, TcpServerAddress{"localhost", 0});
    const auto& bound = std::get<TcpClientAddress>(listener.client_address);
    const Address to = TcpClientAddress{"localhost", bound.port};
    const Connection c = establish(*engine, *client, *server, to);
    round_trip(*engine, *client, *server, c, "by name");
    close_gracefully(*engine, *client, c.client, *server, c.server);
}

TEST(HostName, MoreLookupsThanLookupThreadsAllConnect) {
    auto server_engine = Reactor::create(Options{});
    auto engine = Reactor::create(Options{});
    ChannelGroupPtr server = server_engine->create();
    ChannelGroupPtr client = engine->create();
    const Listener listener = start_listener(*server_engine, *server, TcpServerAddress{"localhost", 0});
    const Address to =
        TcpClientAddress{"localhost", std::get<TcpClientAddress>(listener.client_address).port};
    constexpr std::size_t clients = 12;  // three times the lookup threads
    std::vector<std::uint16_t> channels;
    for (std::size_t i = 0; i < clients; ++i) {
        MessagePtr hello = hello_message(*engine, to);
        channels.push_back(client->post(hello).channel_number);
    }
    for (std::size_t i = 0; i < clients; ++i) {
        (void)accept_client(*server);
    }
    std::set<std::uint16_t> waiting{channels.begin(), channels.end()};
    while (!waiting.empty()) {
        MessagePtr m = receive(*client);
        ASSERT_EQ(m->bhdr.proto.op_code, OpCode::hello_response) << describe(*m);
        EXPECT_EQ(waiting.erase(m->bhdr.channel_number), 1U) << describe(*m);
    }
}

TEST(HostName, AByeSignalDuringTheLookupClosesAtOnceAndTheLateAnswerIsDropped) {
    auto engine = Reactor::create(Options{});
    ChannelGroupPtr client = engine->create();
    // A server that never answers: however far a connect got before its ByeSignal, it ends there.
    const RawListener silent;
    const Address to_silent =
        TcpClientAddress{"localhost", std::get<TcpClientAddress>(silent.client_address()).port};
    for (int round = 0; round < 20; ++round) {
        MessagePtr hello = app_hello(*engine, to_silent);
        const BinaryHeader posted = client->post(hello);
        MessagePtr bye = make_message(*engine, OpCode::bye_signal, posted.channel_number);
        try {
            (void)client->post(bye);
        } catch (const Error& e) {
            ADD_FAILURE() << "the channel closed before its ByeSignal: " << e.what();
        }
        const Ending e = wait_ending(*client, posted.channel_number);
        // However far it got (looking up, connecting, waiting for the HelloResponse), the
        // HelloRequest comes back whole, once.
        expect_whole_hello_back(the_one_hello_back(e), posted, to_silent, AmpeStatus::shutdown_started);
        EXPECT_EQ(reason_of(*e.closed), status_name(AmpeStatus::shutdown_started)) << describe(*e.closed);
    }
    // The channel numbers come back into use, and a late answer meant for an old connection does
    // not reach a new one.
    auto server_engine = Reactor::create(Options{});
    ChannelGroupPtr server = server_engine->create();
    const Listener listener = start_listener(*server_engine, *server, TcpServerAddress{"localhost", 0});
    const Address to =
        TcpClientAddress{"localhost", std::get<TcpClientAddress>(listener.client_address).port};
    const Connection c = establish(*engine, *client, *server, to);
    round_trip(*engine, *client, *server, c, "after the dropped lookups");
    EXPECT_TRUE(eventually([&] { return engine->memory().channels == 1; }));
}

/// What a group received from an engine that is gone: everything, since the engine delivered
/// it all before its destructor returned.
std::vector<MessagePtr> left_in(ChannelGroup& group) {
    std::vector<MessagePtr> all;
    while (MessagePtr m = group.wait_receive(std::chrono::nanoseconds{0})) {
        all.push_back(std::move(m));
    }
    return all;
}

/// The HelloRequest posted on `channel` came back once, and `channel_closed`, if it came (not when
/// the engine stopped before it took the HelloRequest), came after it.
void expect_hello_back_once(const std::vector<MessagePtr>& all, std::uint16_t channel) {
    std::size_t hellos = 0;
    std::size_t closed = 0;
    for (const MessagePtr& m : all) {
        ASSERT_EQ(m->bhdr.channel_number, channel) << describe(*m);
        if (is_channel_closed(*m, channel)) {
            ++closed;
            EXPECT_EQ(hellos, 1U) << "channel_closed before the HelloRequest came back";
        } else {
            EXPECT_EQ(m->bhdr.proto.op_code, OpCode::hello_request) << describe(*m);
            EXPECT_TRUE(m->is_from_engine()) << describe(*m);
            ++hellos;
        }
    }
    EXPECT_EQ(hellos, 1U);
    EXPECT_LE(closed, 1U);
}

TEST(HostName, DestroyingTheEngineDuringALookupReturnsAndReports) {
    const RawListener silent;
    const auto port = std::get<TcpClientAddress>(silent.client_address()).port;
    for (const std::string_view host : {"localhost", "no-such-host.invalid"}) {
        SCOPED_TRACE(std::string{host});
        auto engine = Reactor::create(Options{});
        ChannelGroupPtr client = engine->create();
        MessagePtr hello = app_hello(*engine, TcpClientAddress{std::string{host}, port});
        const BinaryHeader posted = client->post(hello);
        engine.reset();  // never waits for the lookup
        expect_hello_back_once(left_in(*client), posted.channel_number);
    }
    // Once the engine has taken the HelloRequest (its channel counts), destroying it reports the
    // channel closed.
    auto engine = Reactor::create(Options{});
    ChannelGroupPtr client = engine->create();
    MessagePtr hello = app_hello(*engine, TcpClientAddress{"localhost", port});
    const BinaryHeader posted = client->post(hello);
    ASSERT_TRUE(eventually([&] { return engine->memory().channels == 1; }));
    engine.reset();
    const std::vector<MessagePtr> all = left_in(*client);
    expect_hello_back_once(all, posted.channel_number);
    ASSERT_FALSE(all.empty());
    EXPECT_TRUE(is_channel_closed(*all.back(), posted.channel_number)) << describe(*all.back());
    EXPECT_EQ(reason_of(*all.back()), status_name(AmpeStatus::shutdown_started));

    // A group gone first, then its engine, with a lookup under way: nothing to report, nothing held.
    engine = Reactor::create(Options{});
    client = engine->create();
    hello = app_hello(*engine, TcpClientAddress{"localhost", port});
    (void)client->post(hello);
    client.reset();
    engine.reset();
}

}  // namespace
}  // namespace tofu::test

// A WelcomeRequest whose `~listen_on` names a host (issue #28): the name is looked up off the
// engine thread, the listener then listens as for an IP literal; a name the resolver cannot look
// up comes back with its words; a ByeSignal, or the engine going away, during the lookup closes the
// listener as usual and never waits for the resolver.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
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

/// A WelcomeRequest for `where` from `engine`'s pool, not posted yet.
MessagePtr welcome_for(Ampe& engine, const Address& where) {
    MessagePtr welcome = engine.get(AllocationStrategy::always);
    format(*welcome, where);
    return welcome;
}

/// What came back on a listener's channel: its WelcomeRequest (as a WelcomeResponse, or as posted
/// when the engine stopped before it took it) and its `channel_closed` (null when none came).
struct ListenOutcome {
    std::vector<MessagePtr> responses;
    MessagePtr closed;
};

/// Sorts what `all` holds for `channel`; anything else there is a failure.
ListenOutcome sort_listen_outcome(std::vector<MessagePtr> all, std::uint16_t channel) {
    ListenOutcome out;
    for (MessagePtr& m : all) {
        if (is_channel_closed(*m, channel)) {
            EXPECT_EQ(out.closed, nullptr) << "a second channel_closed: " << describe(*m);
            out.closed = std::move(m);
        } else {
            EXPECT_EQ(m->bhdr.channel_number, channel) << describe(*m);
            const OpCode op = m->bhdr.proto.op_code;
            EXPECT_TRUE(op == OpCode::welcome_response || op == OpCode::welcome_request) << describe(*m);
            EXPECT_TRUE(m->is_from_engine()) << describe(*m);
            EXPECT_EQ(out.closed, nullptr) << "after channel_closed: " << describe(*m);
            out.responses.push_back(std::move(m));
        }
    }
    return out;
}

/// Everything `group` receives up to and including `channel`'s `channel_closed`.
std::vector<MessagePtr> received_until_closed(ChannelGroup& group, std::uint16_t channel) {
    std::vector<MessagePtr> all;
    MessagePtr closed = wait_channel_closed(group, channel, &all);
    all.push_back(std::move(closed));
    return all;
}

/// What a group received from an engine that is gone: all of it, delivered before its destructor
/// returned.
std::vector<MessagePtr> left_by_gone_engine(ChannelGroup& group) {
    std::vector<MessagePtr> all;
    while (MessagePtr m = group.wait_receive(std::chrono::nanoseconds{0})) {
        all.push_back(std::move(m));
    }
    return all;
}

TEST(ListenHostName, LocalhostIsLookedUpListensAndAcceptsAClient) {
    auto server_engine = Reactor::create(Options{});
    auto client_engine = Reactor::create(Options{});
    ChannelGroupPtr server = server_engine->create();
    ChannelGroupPtr client = client_engine->create();
    const Listener listener = start_listener(*server_engine, *server, TcpServerAddress{"localhost", 0});
    // `~listen_on` holds the address bound: an IP literal and the port the OS chose, not the name.
    const auto bound = std::get<TcpServerAddress>(server_address_from(listener.listen_on));
    EXPECT_TRUE(bound.ip == "127.0.0.1" || bound.ip == "::1") << listener.listen_on;
    EXPECT_NE(bound.port, 0) << listener.listen_on;

    const Connection c = establish(*client_engine, *client, *server, listener.client_address);
    round_trip(*client_engine, *client, *server, c, "to a listener found by name");
    close_gracefully(*client_engine, *client, c.client, *server, c.server);
}

TEST(ListenHostName, AnUnresolvableNameComesBackWithTheResolversWords) {
    auto engine = Reactor::create(Options{});
    ChannelGroupPtr server = engine->create();
    MessagePtr welcome = welcome_for(*engine, TcpServerAddress{"no-such-host.invalid", 0});
    const std::uint16_t channel = server->post(welcome).channel_number;

    const ListenOutcome out = sort_listen_outcome(received_until_closed(*server, channel), channel);
    ASSERT_EQ(out.responses.size(), 1U);
    const Message& back = *out.responses.front();
    EXPECT_EQ(back.bhdr.proto.op_code, OpCode::welcome_response) << describe(back);
    // No such name is a bad address; a sandbox whose resolver answers "try again" (EAI_AGAIN) makes
    // it a failed listen, which may succeed later. Either way the resolver's words say why.
    const AmpeStatus status = back.bhdr.status;
    EXPECT_TRUE(status == AmpeStatus::invalid_address || status == AmpeStatus::listen_failed)
        << describe(back);
    EXPECT_NE(header_value(back, header::detail).find("no-such-host.invalid"), std::string::npos)
        << describe(back);
    ASSERT_NE(out.closed, nullptr);
    EXPECT_EQ(reason_of(*out.closed), status_name(status)) << describe(*out.closed);
    EXPECT_NE(header_value(*out.closed, header::detail).find("no-such-host.invalid"), std::string::npos)
        << describe(*out.closed);
    EXPECT_TRUE(eventually([&] { return engine->memory().channels == 0; }));
}

TEST(ListenHostName, AByeSignalDuringTheLookupClosesTheListener) {
    auto engine = Reactor::create(Options{});
    ChannelGroupPtr server = engine->create();
    for (int round = 0; round < 20; ++round) {
        MessagePtr welcome = welcome_for(*engine, TcpServerAddress{"localhost", 0});
        const std::uint16_t channel = server->post(welcome).channel_number;
        MessagePtr bye = make_message(*engine, OpCode::bye_signal, channel);
        try {
            (void)server->post(bye);
        } catch (const Error& e) {
            ADD_FAILURE() << "the listener closed before its ByeSignal: " << e.what();
        }
        const ListenOutcome out = sort_listen_outcome(received_until_closed(*server, channel), channel);
        // However far it got (looking up, listening), its WelcomeRequest came back once: as the
        // listen's success, or with the close's reason.
        ASSERT_EQ(out.responses.size(), 1U);
        EXPECT_EQ(out.responses.front()->bhdr.proto.op_code, OpCode::welcome_response);
        const AmpeStatus status = out.responses.front()->bhdr.status;
        EXPECT_TRUE(status == AmpeStatus::success || status == AmpeStatus::shutdown_started)
            << describe(*out.responses.front());
        EXPECT_EQ(reason_of(*out.closed), status_name(AmpeStatus::shutdown_started)) << describe(*out.closed);
    }
    // Nothing is left of the listeners, and a late answer reaches no new channel under their numbers.
    EXPECT_TRUE(eventually([&] { return engine->memory().channels == 0; }));
    const Listener listener = start_listener(*engine, *server, TcpServerAddress{"localhost", 0});
    ChannelGroupPtr client = engine->create();
    const Connection c = establish(*engine, *client, *server, listener.client_address);
    round_trip(*engine, *client, *server, c, "after the dropped lookups");
}

TEST(ListenHostName, DestroyingTheGroupDuringTheLookupLetsTheListenerGo) {
    auto engine = Reactor::create(Options{});
    for (const std::string_view host : {"localhost", "no-such-host.invalid"}) {
        SCOPED_TRACE(std::string{host});
        ChannelGroupPtr server = engine->create();
        MessagePtr welcome = welcome_for(*engine, TcpServerAddress{std::string{host}, 0});
        (void)server->post(welcome);
        server.reset();
        EXPECT_TRUE(eventually([&] { return engine->memory().channels == 0; }));
    }
}

TEST(ListenHostName, DestroyingTheEngineDuringTheLookupReturnsAndReports) {
    for (const std::string_view host : {"localhost", "no-such-host.invalid"}) {
        SCOPED_TRACE(std::string{host});
        auto engine = Reactor::create(Options{});
        ChannelGroupPtr server = engine->create();
        MessagePtr welcome = welcome_for(*engine, TcpServerAddress{std::string{host}, 0});
        const std::uint16_t channel = server->post(welcome).channel_number;
        engine.reset();  // never waits for the lookup
        // The WelcomeRequest came back once (answered, failed, or with the engine's end), and the
        // channel's close, if reported, after it.
        const ListenOutcome out = sort_listen_outcome(left_by_gone_engine(*server), channel);
        EXPECT_EQ(out.responses.size(), 1U);
        if (out.closed != nullptr && !out.responses.empty() &&
            out.responses.front()->bhdr.status != AmpeStatus::success) {
            EXPECT_EQ(reason_of(*out.closed), status_name(out.responses.front()->bhdr.status));
        }
    }
}

}  // namespace
}  // namespace tofu::test

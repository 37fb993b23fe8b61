// Timeouts too large for the clock (`milliseconds::max()`): the engine takes them as "practically
// never" (engine/deadline.hpp), so a timer armed with one neither wraps into the past (firing at
// once) nor overflows, and a socket option made from one stays in the kernel's range.
//
// "Did not fire at once" is checked without timing: the application's timer below fires in the
// same loop step as, and after, any channel timer already due, so a deadline that wrapped into the
// past would close its channel before the timer's message arrives.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
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

constexpr auto huge = std::chrono::milliseconds::max();

/// Sets a timer on `group` and returns everything that arrives before its message: the engine's
/// channel timers already due have fired by then.
std::vector<MessagePtr> received_before_a_timer(ChannelGroup& group) {
    constexpr std::uint16_t marker_channel = 0;
    (void)group.update_receiver({}, 100ms);
    std::vector<MessagePtr> before;
    (void)wait_for(
        group,
        [](const Message& m) {
            return m.bhdr.status == AmpeStatus::receiver_update && m.bhdr.channel_number == marker_channel &&
                   !m.is_from_engine();
        },
        "the application's timer", &before);
    return before;
}

TEST(HugeTimeout, EveryTimeoutAtItsLargestIsTakenAndTheEngineWorks) {
    Options options;
    options.handshake_timeout = huge;
    options.connect_timeout = huge;
    options.dead_peer_timeout = huge;  // TCP_USER_TIMEOUT gets the kernel's largest, not garbage
    options.stall_timeout = huge;
    std::unique_ptr<Reactor> engine;
    ASSERT_NO_THROW(engine = Reactor::create(options));
    ChannelGroupPtr server = engine->create();
    ChannelGroupPtr client = engine->create();
    const Listener listener = start_listener(*engine, *server, Transport::tcp4);
    const Connection c = establish(*engine, *client, *server, listener.client_address);
    round_trip(*engine, *client, *server, c, "with the largest timeouts");
    close_gracefully(*engine, *client, c.client, *server, c.server);
}

TEST(HugeTimeout, TheLargestConnectTimeoutDoesNotEndAConnectAtOnce) {
    const RawListener silent;  // accepts (in the kernel's backlog) and never answers
    Options options;
    options.connect_timeout = huge;
    auto engine = Reactor::create(options);
    ChannelGroupPtr client = engine->create();
    // The option, and the largest a HelloRequest may ask for itself.
    for (const std::string_view per_connect : {std::string_view{}, std::string_view{"2147483647"}}) {
        SCOPED_TRACE(std::string{per_connect});
        MessagePtr hello = hello_message(*engine, silent.client_address());
        if (!per_connect.empty()) {
            hello->thdrs.append(header::connect_timeout, per_connect);
        }
        const std::uint16_t channel = client->post(hello).channel_number;
        for (const MessagePtr& m : received_before_a_timer(*client)) {
            EXPECT_NE(m->bhdr.channel_number, channel) << "the connect ended: " << describe(*m);
        }
        MessagePtr bye = make_message(*engine, OpCode::bye_signal, channel);
        (void)client->post(bye);
        const MessagePtr closed = wait_channel_closed(*client, channel);
        EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::shutdown_started)) << describe(*closed);
    }
}

TEST(HugeTimeout, TheLargestHandshakeTimeoutDoesNotDropASilentConnectionAtOnce) {
    Options options;
    options.handshake_timeout = huge;
    auto engine = Reactor::create(options);
    ChannelGroupPtr server = engine->create();
    const Listener listener = start_listener(*engine, *server, Transport::tcp4);
    const RawPeer silent{listener.client_address};                            // connects and never says hello
    ASSERT_TRUE(eventually([&] { return engine->memory().channels == 2; }));  // listener, connection

    for (const MessagePtr& m : received_before_a_timer(*server)) {
        ADD_FAILURE() << "nothing was expected: " << describe(*m);
    }
    EXPECT_EQ(engine->memory().channels, 2U) << "the silent connection was dropped";
}

}  // namespace
}  // namespace tofu::test

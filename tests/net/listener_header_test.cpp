// `~listener` on the HelloRequest a listener delivers: the channel number of the listener that
// accepted the connection, written by the engine alone (a peer's `~listener` is dropped), so a
// group with several listeners knows which one each client came through.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>

#include "support/engine_helpers.hpp"

namespace tofu::test {
namespace {

/// Every value of `name` on `msg`, in order.
std::vector<std::string> values_of(const Message& msg, std::string_view name) {
    std::vector<std::string> values;
    for (const TextHeader h : msg.thdrs) {
        if (h.name == name) {
            values.emplace_back(h.value);
        }
    }
    return values;
}

TEST(ListenerHeader, EachAcceptedHelloNamesTheListenerThatTookIt) {
    auto engine = Reactor::create(Options{});
    ChannelGroupPtr server = engine->create();
    ChannelGroupPtr client = engine->create();
    const Listener first = start_listener(*engine, *server, Transport::tcp4);
    const Listener second = start_listener(*engine, *server, uds_or_tcp4());
    ASSERT_NE(first.channel, second.channel);

    // One client through each, in turn, so each Hello is known to come through its listener.
    for (const Listener* through : {&second, &first, &second}) {
        MessagePtr hello = hello_message(*engine, through->client_address);
        (void)client->post(hello);
        MessagePtr got = wait_hello_request(*server);
        EXPECT_EQ(values_of(*got, header::listener),
                  std::vector<std::string>{std::to_string(through->channel)})
            << describe(*got);
        EXPECT_EQ(got->thdrs.find(header::listener), std::to_string(through->channel));
        (void)accept_hello(*server, std::move(got));
    }
}

TEST(ListenerHeader, APeersOwnListenerHeaderIsDroppedForTheEngines) {
    auto engine = Reactor::create(Options{});
    ChannelGroupPtr server = engine->create();
    const Listener listener = start_listener(*engine, *server, Transport::tcp4);
    RawPeer liar{listener.client_address};
    ASSERT_TRUE(liar.send(hello_frame(1, 7, "~listener:999\r\nx-kept:1\r\n")));
    const MessagePtr hello = wait_hello_request(*server);
    EXPECT_EQ(values_of(*hello, header::listener), std::vector<std::string>{std::to_string(listener.channel)})
        << hello->thdrs.text();
    EXPECT_EQ(header_value(*hello, "x-kept"), "1");
    // `~peer` stays the last header, after `~listener`.
    std::vector<TextHeader> headers{hello->thdrs.begin(), hello->thdrs.end()};
    ASSERT_GE(headers.size(), 2U);
    EXPECT_EQ(headers.back().name, header::peer);
    EXPECT_EQ(headers[headers.size() - 2].name, header::listener);
}

}  // namespace
}  // namespace tofu::test

// A connection flood (label `stress`): thousands of raw connections opened at once, some saying
// Hello and some silent, then all dropped at once. The engine must report every channel it gave out
// exactly once, keep serving an established client, give every descriptor back and then sit idle.
#include <gtest/gtest.h>

#if !defined(_WIN32)
#include <sys/resource.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
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

/// How many connections the flood opens: 2,000, or fewer when the descriptor limit is lower (each
/// connection takes two descriptors in this process, one per end).
std::size_t flood_size() {
#if defined(_WIN32)
    return 2000;  // no descriptor limit to stay under
#else
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    const std::size_t room = limit.rlim_cur > open_descriptor_count() + 200
                                 ? (limit.rlim_cur - open_descriptor_count() - 200) / 2
                                 : 0;
    return std::min<std::size_t>(2000, room);
#endif
}

class ConnectionFlood : public ::testing::TestWithParam<Transport> {
protected:
    void SetUp() override {
        if (const auto why = transport_unavailable(GetParam())) {
            GTEST_SKIP() << *why;
        }
        if (!process_stats_available()) {
            GTEST_SKIP() << "this system gives no count of open descriptors";
        }
    }
};

TEST_P(ConnectionFlood, ThousandsOpenedAndDroppedAtOnce) {
    const std::size_t n = flood_size();
    if (n < 100) {
        GTEST_SKIP() << "the descriptor limit leaves room for only " << n << " connections";
    }
    // Every Hello must be read before the handshake timeout closes its connection, and opening
    // 2,000 connections took 7.7 s under Wine, where every connect goes through wineserver. Silent
    // connections then stay open until their peers drop them.
    Options server_options;
    server_options.handshake_timeout = std::chrono::minutes{1};
    auto server_engine = Reactor::create(server_options);
    auto client_engine = Reactor::create(Options{});
    ChannelGroupPtr server = server_engine->create();
    ChannelGroupPtr client = client_engine->create();
    const Listener listener = start_listener(*server_engine, *server, GetParam());
    const Connection good = establish(*client_engine, *client, *server, listener.client_address);
    const std::size_t fds_before = open_descriptor_count();

    std::set<std::uint16_t> given;   // channels the engine delivered a HelloRequest on
    std::set<std::uint16_t> closed;  // channels reported closed
    const auto note = [&](const MessagePtr& m) {
        if (is_any_channel_closed(*m)) {
            EXPECT_TRUE(closed.insert(m->bhdr.channel_number).second)
                << "channel " << m->bhdr.channel_number << " reported closed twice";
        } else if (m->bhdr.proto.op_code == OpCode::hello_request && !m->is_from_engine()) {
            given.insert(m->bhdr.channel_number);  // left unanswered: the peer drops it anyway
        }
    };
    {
        std::vector<std::unique_ptr<RawPeer>> peers;
        peers.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            peers.push_back(std::make_unique<RawPeer>(listener.client_address));
            if (i % 2 == 0) {
                (void)peers.back()->send(hello_frame(1, i + 1));  // every other one says Hello
            }
        }
        const auto hello_seen = [&] {
            for (MessagePtr m = server->wait_receive(0ns); m; m = server->wait_receive(0ns)) {
                note(m);
            }
            return given.size() == (n + 1) / 2;
        };
        ASSERT_TRUE(eventually(hello_seen)) << given.size() << " of " << (n + 1) / 2 << " Hellos arrived";
        // (After the Hellos are counted: a round trip drops what it does not wait for.)
        round_trip(*client_engine, *client, *server, good, "with thousands of connections open");
    }  // every raw peer closes here, at once

    // Every channel the engine handed out is reported closed once, and every descriptor comes back.
    const auto all_closed = [&] {
        for (MessagePtr m = server->wait_receive(0ns); m; m = server->wait_receive(0ns)) {
            note(m);
        }
        return std::ranges::includes(closed, given) && open_descriptor_count() <= fds_before;
    };
    EXPECT_TRUE(eventually(all_closed, 60s))
        << closed.size() << " closed of " << given.size() << " greeted; descriptors "
        << open_descriptor_count() << " vs " << fds_before << " before";
    EXPECT_EQ(closed.count(good.server), 0U) << "the established connection was closed";
    round_trip(*client_engine, *client, *server, good, "after the flood");

    expect_idle_second();
}

INSTANTIATE_TEST_SUITE_P(Transports, ConnectionFlood, ::testing::ValuesIn(tcp4_and_uds_transports()),
                         transport_test_name);

}  // namespace
}  // namespace tofu::test

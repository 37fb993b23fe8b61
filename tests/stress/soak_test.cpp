// Soak (label `stress`): many connections, each exchanging many requests with an echo server, in
// rounds (one request on every connection, then every answer). Bounded in CI (100 connections x
// 100 requests); `TOFU_SOAK=10` runs the full soak (1,000 x 1,000). Every answer must come back on
// its connection with its id, the server must see every connection close gracefully, and open
// descriptors and the resident set must not grow beyond a small bound.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <thread>
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

constexpr std::size_t soak_memory_bound = std::size_t{16} << 20U;

class Soak : public ::testing::TestWithParam<Transport> {
protected:
    void SetUp() override {
        if (const auto why = transport_unavailable(GetParam())) {
            GTEST_SKIP() << *why;
        }
        if (!process_stats_available()) {
            GTEST_SKIP() << "this system gives no count of open descriptors and memory";
        }
    }
};

TEST_P(Soak, ManyConnectionsEachExchangingManyRequests) {
    const std::size_t connections = 100 * soak_factor();
    const std::size_t rounds = 100 * soak_factor();
    const std::size_t fds_at_start = descriptor_baseline();
    {
        auto server_engine = Reactor::create(Options{});
        auto client_engine = Reactor::create(Options{});
        ChannelGroupPtr server = server_engine->create();
        ChannelGroupPtr client = client_engine->create();
        const Listener listener = start_listener(*server_engine, *server, GetParam());
        const std::size_t fds_before = open_descriptor_count();

        EchoStats stats;
        std::string server_failure;
        std::atomic<bool> stop_server{false};
        std::thread server_thread{[&] {
            try {
                stats = serve_echo(*server, connections, std::chrono::minutes{30}, &stop_server);
            } catch (const std::exception& e) {
                server_failure = e.what();
            }
        }};
        // However the test ends, the server thread ends with it (a failed assertion returns early).
        const auto stop_and_join = [&] {
            if (server_thread.joinable()) {
                stop_server.store(true);
                server->update_receiver();
                server_thread.join();
            }
        };
        struct Joiner {
            const std::function<void()> join;
            ~Joiner() { join(); }
        } joiner{stop_and_join};

        std::vector<std::uint16_t> channels;
        std::vector<std::size_t> position(max_channel + 1U, 0);  // channel -> index in `channels`
        for (std::size_t i = 0; i < connections; ++i) {
            channels.push_back(connect_client(*client_engine, *client, listener.client_address));
            position[channels.back()] = i;
        }

        // One request on every connection, then every answer; a round's answers come in any order.
        MemoryUse before{};
        for (std::size_t round = 1; round <= rounds; ++round) {
            for (const std::uint16_t ch : channels) {
                MessagePtr request = make_message(*client_engine, OpCode::request, ch, round);
                request->body.copy(pattern_bytes(64, round * 100'000 + ch));
                (void)client->post(request);
            }
            std::vector<bool> answered(connections, false);
            for (std::size_t got = 0; got < connections;) {
                MessagePtr answer = receive(*client);
                if (is_engine_signal(*answer, AmpeStatus::pool_empty, answer->bhdr.channel_number)) {
                    continue;  // backpressure: this loop returning answers to the pool resumes reading
                }
                ++got;
                ASSERT_EQ(answer->bhdr.proto.op_code, OpCode::response) << describe(*answer);
                ASSERT_EQ(answer->bhdr.message_id, round) << describe(*answer);
                const std::size_t at = position[answer->bhdr.channel_number];
                ASSERT_EQ(channels[at], answer->bhdr.channel_number) << describe(*answer);
                ASSERT_FALSE(answered[at]) << "two answers on one connection: " << describe(*answer);
                answered[at] = true;
                ASSERT_TRUE(
                    matches_pattern(answer->body.data(), 64, round * 100'000 + answer->bhdr.channel_number));
            }
            if (round == 2) {
                before = memory_use();  // after the first rounds have sized pools and buffers
            }
        }
        expect_memory_growth_within(before, soak_memory_bound, std::to_string(rounds) + " rounds");

        for (const std::uint16_t ch : channels) {
            close_and_wait(*client_engine, *client, ch);
        }
        server_thread.join();  // it returns once every connection has closed
        ASSERT_TRUE(server_failure.empty()) << server_failure;
        EXPECT_EQ(stats.accepted, connections);
        EXPECT_EQ(stats.echoed, connections * rounds);
        EXPECT_EQ(stats.closed, connections);
        EXPECT_EQ(stats.closed_not_success, 0U);

        EXPECT_TRUE(eventually([&] { return open_descriptor_count() == fds_before; }))
            << "open descriptors: " << open_descriptor_count() << ", before the connections: " << fds_before;
    }
    EXPECT_TRUE(descriptors_back_to(fds_at_start))
        << "descriptors left after both engines were destroyed: " << open_descriptor_count() << " open, "
        << fds_at_start << " at the start";
}

INSTANTIATE_TEST_SUITE_P(Transports, Soak, ::testing::ValuesIn(tcp4_and_uds_transports()),
                         transport_test_name);

}  // namespace
}  // namespace tofu::test

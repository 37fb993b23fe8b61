// Reconnect stress (label `stress`): a thousand connect / exchange / close cycles, on one thread and
// on four, closing gracefully from either side or aborting with ByeSignal. Open file descriptors
// must come back to where they started (nothing leaks per connection, no TIME_WAIT trouble since
// sockets close abortively) and the resident set must stay within a small bound.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <thread>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "support/engine_helpers.hpp"

namespace tofu::test {
namespace {

constexpr std::size_t reconnect_memory_bound = std::size_t{8} << 20U;

class ReconnectStress : public ::testing::TestWithParam<Transport> {
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

/// Aborts `channel` from the client side and checks both reports.
void abort_from_client(Ampe& client_ampe, ChannelGroup& client, std::uint16_t client_channel,
                       ChannelGroup& server, std::uint16_t server_channel) {
    MessagePtr abort = make_message(client_ampe, OpCode::bye_signal, client_channel);
    (void)client.post(abort);
    MessagePtr client_closed = wait_channel_closed(client, client_channel);
    if (reason_of(*client_closed) != status_name(AmpeStatus::shutdown_started)) {
        throw TestFailure{"aborting side: " + describe(*client_closed)};
    }
    MessagePtr server_closed = wait_channel_closed(server, server_channel);
    if (reason_of(*server_closed) != status_name(AmpeStatus::peer_disconnected)) {
        throw TestFailure{"aborted side: " + describe(*server_closed)};
    }
}

TEST_P(ReconnectStress, ThousandReconnectsOnOneThread) {
    const std::size_t fds_at_start = descriptor_baseline();
    {
        std::unique_ptr<Reactor> server_engine = Reactor::create(Options{});
        std::unique_ptr<Reactor> client_engine = Reactor::create(Options{});
        ChannelGroupPtr server = server_engine->create();
        ChannelGroupPtr client = client_engine->create();
        const Listener listener = start_listener(*server_engine, *server, GetParam());
        const std::size_t fds_before = open_descriptor_count();

        // Graceful close from the client, from the server, or an abort, in turn.
        const auto cycle = [&](std::size_t i) {
            const Connection c = establish(*client_engine, *client, *server, listener.client_address);
            round_trip(*client_engine, *client, *server, c, std::to_string(i));
            switch (i % 4) {
                case 1: close_gracefully(*server_engine, *server, c.server, *client, c.client); break;
                case 3: abort_from_client(*client_engine, *client, c.client, *server, c.server); break;
                default: close_gracefully(*client_engine, *client, c.client, *server, c.server); break;
            }
        };
        for (std::size_t i = 0; i < 20; ++i) {
            cycle(i);  // warm-up: pools and allocator arenas reach their steady size
        }
        const MemoryUse before = memory_use();
        const std::size_t cycles = 1000 * soak_factor();  // TOFU_SOAK=10: the 10,000-cycle soak
        for (std::size_t i = 0; i < cycles; ++i) {
            SCOPED_TRACE("cycle " + std::to_string(i));
            cycle(i);
        }

        EXPECT_TRUE(eventually([&] { return open_descriptor_count() == fds_before; }))
            << "open descriptors: " << open_descriptor_count() << ", before the cycles: " << fds_before;
        expect_memory_growth_within(before, reconnect_memory_bound, std::to_string(cycles) + " reconnects");
    }
    EXPECT_TRUE(descriptors_back_to(fds_at_start))
        << "descriptors left after both engines were destroyed: " << open_descriptor_count() << " open, "
        << fds_at_start << " at the start";
}

TEST_P(ReconnectStress, ThousandReconnectsOnFourThreads) {
    constexpr std::size_t threads = 4;
    constexpr std::size_t per_thread = 250;
    constexpr std::size_t warm_up_per_thread = 5;
    constexpr std::size_t total = threads * (per_thread + warm_up_per_thread);

    const std::size_t fds_at_start = descriptor_baseline();
    {
        std::unique_ptr<Reactor> server_engine = Reactor::create(Options{});
        std::unique_ptr<Reactor> client_engine = Reactor::create(Options{});
        ChannelGroupPtr server = server_engine->create();
        const Listener listener = start_listener(*server_engine, *server, GetParam());
        const std::size_t fds_before = open_descriptor_count();

        EchoStats stats;
        std::string server_failure;
        std::atomic<bool> stop_server{false};
        std::thread server_thread{[&] {
            try {
                stats = serve_echo(*server, total, std::chrono::minutes{8}, &stop_server);
            } catch (const std::exception& e) {
                server_failure = e.what();
            }
        }};

        std::atomic<std::size_t> aborted{0};
        // Each thread: its own group on the shared client engine; connect, one echo, then close
        // gracefully or (every fourth cycle) abort.
        const auto cycles = [&](std::size_t thread, std::size_t count) {
            ChannelGroupPtr group = client_engine->create();
            for (std::size_t i = 0; i < count; ++i) {
                const std::uint16_t ch = connect_client(*client_engine, *group, listener.client_address);
                const std::string text = "thread " + std::to_string(thread) + " cycle " + std::to_string(i);
                MessagePtr request = make_message(*client_engine, OpCode::request, ch, i + 1, text);
                (void)group->post(request);
                MessagePtr echo_msg = wait_for_op(*group, OpCode::response, ch);
                if (echo_msg->bhdr.message_id != i + 1 || echo_msg->body.text() != text) {
                    throw TestFailure{"wrong echo for " + text + ": " + describe(*echo_msg)};
                }
                if (i % 4 == 3) {
                    MessagePtr abort = make_message(*client_engine, OpCode::bye_signal, ch);
                    (void)group->post(abort);
                    MessagePtr closed = wait_channel_closed(*group, ch);
                    if (reason_of(*closed) != status_name(AmpeStatus::shutdown_started)) {
                        throw TestFailure{"abort of " + text + ": " + describe(*closed)};
                    }
                    aborted.fetch_add(1);
                } else {
                    close_and_wait(*client_engine, *group, ch);
                }
            }
        };
        run_concurrently(threads, [&](std::size_t t) { cycles(t, warm_up_per_thread); });
        const MemoryUse before = memory_use();
        run_concurrently(threads, [&](std::size_t t) { cycles(t, per_thread); });

        if (HasFailure()) {
            stop_server = true;  // the clients gave up: do not wait for closes that will not come
            server->update_receiver();
        }
        server_thread.join();
        EXPECT_TRUE(server_failure.empty()) << server_failure;
        EXPECT_EQ(stats.accepted, total);
        EXPECT_EQ(stats.echoed, total);
        EXPECT_EQ(stats.closed, total);
        EXPECT_EQ(stats.closed_not_success, aborted.load())
            << "every abort and only aborts end without success";

        EXPECT_TRUE(eventually([&] { return open_descriptor_count() == fds_before; }))
            << "open descriptors: " << open_descriptor_count() << ", before the cycles: " << fds_before;
        expect_memory_growth_within(before, reconnect_memory_bound,
                                    std::to_string(threads * per_thread) + " reconnects");
    }
    EXPECT_TRUE(descriptors_back_to(fds_at_start))
        << "descriptors left after both engines were destroyed: " << open_descriptor_count() << " open, "
        << fds_at_start << " at the start";
}

INSTANTIATE_TEST_SUITE_P(Transports, ReconnectStress, ::testing::ValuesIn(tcp4_and_uds_transports()),
                         transport_test_name);

}  // namespace
}  // namespace tofu::test

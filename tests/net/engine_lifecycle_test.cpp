// The engine's life cycle through the public API (DESIGN.md sections 1, 3 and 7): creating and
// destroying engines and channel groups, several engines at once, the pool seen through
// `Ampe::get` / `Ampe::put`, and `update_receiver` waking a receiver.
//
// No sleeps, no timing assertions, bounded loops only; every wait has a deadline.
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
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

/// Success when `m` is in the state of a new message, which is what `Ampe::get` must hand out.
::testing::AssertionResult is_pristine(const Message& m) {
    if (!(m.bhdr == BinaryHeader{})) {
        return ::testing::AssertionFailure() << "binary header not reset: " << describe(m);
    }
    if (!m.thdrs.empty() || !m.body.empty()) {
        return ::testing::AssertionFailure() << "text headers or body not empty: " << describe(m);
    }
    return ::testing::AssertionSuccess();
}

/// Fills every part of a message with non-default values.
void dirty(Message& m) {
    m.bhdr.channel_number = 9;
    m.bhdr.proto = ProtoFields{OpCode::hello_request, Origin::engine, true, true};
    m.bhdr.status = AmpeStatus::pool_empty;
    m.bhdr.message_id = 99;
    m.thdrs.append("x-dirty", "yes");
    m.body.copy("dirty body");
}

// --- create / destroy ----------------------------------------------------------------------------

TEST(EngineLifecycle, CreateAndDestroyEngineAndGroupTwoHundredTimes) {
    const bool count_fds = process_stats_available();
    const std::size_t fds_before = count_fds ? descriptor_baseline() : 0;
    for (int i = 0; i < 200; ++i) {
        SCOPED_TRACE("iteration " + std::to_string(i));
        std::unique_ptr<Reactor> engine = Reactor::create(Options{});
        ASSERT_NE(engine, nullptr);
        ChannelGroupPtr group = engine->create();
        ASSERT_NE(group, nullptr);

        // The group is alive: a receiver update makes the round trip through its queue.
        group->update_receiver();
        MessagePtr wake = group->wait_receive(event_timeout);
        ASSERT_NE(wake, nullptr);
        EXPECT_TRUE(is_engine_signal(*wake, AmpeStatus::receiver_update, wake->bhdr.channel_number))
            << describe(*wake);
        wake.reset();

        // Both ways of ending a group: `Ampe::destroy` and letting the handle die.
        if (i % 2 == 0) {
            engine->destroy(std::move(group));
        } else {
            group.reset();
        }
    }
    if (count_fds) {
        EXPECT_TRUE(descriptors_back_to(fds_before))
            << "engines or groups leak file descriptors: " << open_descriptor_count() << " open, "
            << fds_before << " before";
    }
}

TEST(EngineLifecycle, EngineWithManyGroupsDestroyedInAnyOrder) {
    std::unique_ptr<Reactor> engine = Reactor::create(Options{});
    std::vector<ChannelGroupPtr> groups;
    for (int i = 0; i < 32; ++i) {
        groups.push_back(engine->create());
        ASSERT_NE(groups.back(), nullptr);
    }
    // Every group has its own queue: an update put into group i arrives in group i only.
    for (std::size_t i = 0; i < groups.size(); ++i) {
        MessagePtr msg = make_message(*engine, OpCode::signal, 0, i + 1);
        groups[i]->update_receiver(std::move(msg));
    }
    for (std::size_t i = 0; i < groups.size(); ++i) {
        MessagePtr got = groups[i]->wait_receive(event_timeout);
        ASSERT_NE(got, nullptr) << "group " << i;
        EXPECT_EQ(got->bhdr.message_id, i + 1) << "group " << i << " got another group's update";
        EXPECT_EQ(got->bhdr.status, AmpeStatus::receiver_update);
    }
    // Destroy every other group now, the rest with the engine still alive at the end of scope.
    for (std::size_t i = 0; i < groups.size(); i += 2) {
        engine->destroy(std::move(groups[i]));
    }
    ChannelGroupPtr late = engine->create();
    EXPECT_NE(late, nullptr) << "the engine stops making groups after some were destroyed";
    groups.clear();
}

TEST(EngineLifecycle, FourEnginesOnFourThreadsEachServingItself) {
    run_concurrently(4, [](std::size_t thread) {
        for (int i = 0; i < 10; ++i) {
            std::unique_ptr<Reactor> engine = Reactor::create(Options{});
            ChannelGroupPtr server = engine->create();
            ChannelGroupPtr client = engine->create();
            const Listener listener =
                start_listener(*engine, *server, thread % 2 == 0 ? Transport::tcp4 : uds_or_tcp4());
            const Connection connection = establish(*engine, *client, *server, listener.client_address);
            round_trip(*engine, *client, *server, connection,
                       "thread " + std::to_string(thread) + " iteration " + std::to_string(i));
            close_gracefully(*engine, *client, connection.client, *server, connection.server);
        }
    });
}

TEST(EngineLifecycle, FourEnginesAliveAtOnceTalkToEachOther) {
    // Four engines in a ring: engine i listens, engine i+1 connects to it.
    constexpr std::size_t count = 4;
    std::vector<std::unique_ptr<Reactor>> engines;
    std::vector<ChannelGroupPtr> servers;
    std::vector<ChannelGroupPtr> clients;
    std::vector<Listener> listeners;
    for (std::size_t i = 0; i < count; ++i) {
        engines.push_back(Reactor::create(Options{}));
        servers.push_back(engines.back()->create());
        clients.push_back(engines.back()->create());
        listeners.push_back(start_listener(*engines.back(), *servers.back(), Transport::tcp4));
    }
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t next = (i + 1) % count;
        SCOPED_TRACE("engine " + std::to_string(next) + " to engine " + std::to_string(i));
        const Connection connection =
            establish(*engines[next], *clients[next], *servers[i], listeners[i].client_address);
        round_trip(*engines[next], *clients[next], *servers[i], connection, std::to_string(i));
        close_gracefully(*engines[next], *clients[next], connection.client, *servers[i], connection.server);
    }
}

TEST(EngineLifecycle, InvalidOptionsAreRejectedWithNotAllowed) {
    const std::array<Options, 3> invalid{Options{0, 0}, Options{8, 4}, Options{2, 1}};
    for (const Options& options : invalid) {
        SCOPED_TRACE("initial " + std::to_string(options.initial_pool_msgs) + ", max " +
                     std::to_string(options.max_pool_msgs));
        try {
            const std::unique_ptr<Reactor> engine = Reactor::create(options);
            ADD_FAILURE() << "Reactor::create accepted invalid options";
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), AmpeStatus::not_allowed) << e.what();
        }
    }
}

TEST(EngineLifecycle, GroupOutlivingItsEngineRefusesPostsWithShutdownStarted) {
    std::unique_ptr<Reactor> engine = Reactor::create(Options{});
    ChannelGroupPtr group = engine->create();
    MessagePtr held = engine->get(AllocationStrategy::always);
    ASSERT_NE(held, nullptr);
    held->body.copy("held across the engine's death");

    engine.reset();

    // "Channel groups still alive only return what they already received": nothing was received,
    // so a short wait ends empty (a bounded drain in case the engine queued something).
    for (int i = 0; i < 64; ++i) {
        MessagePtr left = group->wait_receive(std::chrono::nanoseconds{0});
        if (!left) {
            break;
        }
        EXPECT_TRUE(is_defined(left->bhdr.proto.op_code)) << describe(*left);
    }

    // A valid WelcomeRequest passes every other check, so the only possible refusal is the
    // engine being gone.
    MessagePtr welcome = Message::create();
    format(*welcome, TcpServerAddress{"127.0.0.1", 0});
    try {
        (void)group->post(welcome);
        ADD_FAILURE() << "post on a group whose engine is gone was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), AmpeStatus::shutdown_started) << e.what();
        ASSERT_NE(welcome, nullptr) << "a refused message must stay with the caller";
        EXPECT_EQ(welcome->bhdr.status, AmpeStatus::shutdown_started);
    }

    // The message taken from the dead engine's pool is still ours to use and release.
    EXPECT_EQ(held->body.text(), "held across the engine's death");
    held->body.append(std::string_view{" and still writable"});
    EXPECT_EQ(held->body.text(), "held across the engine's death and still writable");
    held.reset();
    group.reset();
}

// --- the pool through Ampe -----------------------------------------------------------------------

TEST(EnginePool, SmallestPoolPoolOnlyGivesNullWhenEmpty) {
    std::unique_ptr<Reactor> engine = Reactor::create(Options{1, 1});
    MessagePtr first = engine->get(AllocationStrategy::pool_only);
    ASSERT_NE(first, nullptr) << "the one preallocated message is missing";
    EXPECT_TRUE(is_pristine(*first));
    EXPECT_EQ(engine->get(AllocationStrategy::pool_only), nullptr) << "pool_only must give null when empty";

    dirty(*first);
    engine->put(std::move(first));
    MessagePtr again = engine->get(AllocationStrategy::pool_only);
    ASSERT_NE(again, nullptr) << "the returned message did not go back to the pool";
    EXPECT_TRUE(is_pristine(*again)) << "a reused message must be reset";
    EXPECT_EQ(engine->get(AllocationStrategy::pool_only), nullptr);

    // Letting the pointer die returns it too.
    again.reset();
    EXPECT_NE(engine->get(AllocationStrategy::pool_only), nullptr);
}

TEST(EnginePool, SmallestPoolAlwaysAllocatesWhenEmpty) {
    std::unique_ptr<Reactor> engine = Reactor::create(Options{1, 1});
    std::vector<MessagePtr> held;
    std::set<const Message*> distinct;
    for (int i = 0; i < 5; ++i) {
        held.push_back(engine->get(AllocationStrategy::always));
        ASSERT_NE(held.back(), nullptr) << "get(always) #" << i;
        EXPECT_TRUE(is_pristine(*held.back()));
        distinct.insert(held.back().get());
        dirty(*held.back());
    }
    EXPECT_EQ(distinct.size(), held.size());
    EXPECT_EQ(engine->get(AllocationStrategy::pool_only), nullptr);

    // Back to a pool of at most one message: one comes back, the rest are freed.
    held.clear();
    MessagePtr kept = engine->get(AllocationStrategy::pool_only);
    ASSERT_NE(kept, nullptr);
    EXPECT_TRUE(is_pristine(*kept));
    EXPECT_EQ(engine->get(AllocationStrategy::pool_only), nullptr) << "the pool kept more than max_pool_msgs";
}

TEST(EnginePool, PutAdoptsAStandaloneMessage) {
    std::unique_ptr<Reactor> engine = Reactor::create(Options{0, 2});
    EXPECT_EQ(engine->get(AllocationStrategy::pool_only), nullptr)
        << "initial_pool_msgs 0 preallocated something";

    MessagePtr standalone = Message::create();
    dirty(*standalone);
    engine->put(std::move(standalone));
    MessagePtr adopted = engine->get(AllocationStrategy::pool_only);
    ASSERT_NE(adopted, nullptr) << "put() did not adopt the standalone message";
    EXPECT_TRUE(is_pristine(*adopted));
}

TEST(EnginePool, GetAndPutFromManyThreads) {
    std::unique_ptr<Reactor> engine = Reactor::create(Options{4, 8});
    run_concurrently(4, [&](std::size_t thread) {
        for (int i = 0; i < 500; ++i) {
            MessagePtr a = engine->get(AllocationStrategy::always);
            MessagePtr b = engine->get(AllocationStrategy::pool_only);  // may be null
            if (!a) {
                throw TestFailure{"get(always) returned null"};
            }
            if (!is_pristine(*a) || (b && !is_pristine(*b))) {
                throw TestFailure{"a message from the pool was not reset"};
            }
            a->body.copy("thread " + std::to_string(thread));
            if (i % 2 == 0) {
                engine->put(std::move(a));
            }
        }
    });
    EXPECT_NE(engine->get(AllocationStrategy::pool_only), nullptr)
        << "the pool is empty after everything came back";
}

// --- update_receiver -----------------------------------------------------------------------------

/// Starts a thread blocked in `wait_receive(wait_forever)` on `group`.
std::future<MessagePtr> wait_forever_on(ChannelGroup& group) {
    return std::async(std::launch::async, [&group] { return group.wait_receive(wait_forever); });
}

/// Gets what the waiting thread received; on timeout, wakes it again so the thread can end, and fails.
MessagePtr result_of(std::future<MessagePtr>& waiter, ChannelGroup& group) {
    if (waiter.wait_for(event_timeout) != std::future_status::ready) {
        group.update_receiver();  // let the blocked thread end before the group dies
        ADD_FAILURE() << "update_receiver did not wake wait_receive(wait_forever)";
    }
    return waiter.get();
}

TEST(ReceiverUpdate, WakesAnInfiniteWaitWithoutAMessage) {
    std::unique_ptr<Reactor> engine = Reactor::create(Options{});
    ChannelGroupPtr group = engine->create();
    std::future<MessagePtr> waiter = wait_forever_on(*group);

    group->update_receiver();

    MessagePtr got = result_of(waiter, *group);
    ASSERT_NE(got, nullptr);
    EXPECT_TRUE(got->is_from_engine()) << describe(*got);
    EXPECT_EQ(got->bhdr.proto.op_code, OpCode::signal) << describe(*got);
    EXPECT_EQ(got->bhdr.status, AmpeStatus::receiver_update) << describe(*got);
}

TEST(ReceiverUpdate, WakesAnInfiniteWaitWithAMessage) {
    std::unique_ptr<Reactor> engine = Reactor::create(Options{});
    ChannelGroupPtr group = engine->create();
    std::future<MessagePtr> waiter = wait_forever_on(*group);

    MessagePtr msg = engine->get(AllocationStrategy::always);
    msg->bhdr.message_id = 4242;
    msg->thdrs.append("x-wake", "up");
    msg->body.copy("wake up body");
    std::thread updater{[&] { group->update_receiver(std::move(msg)); }};
    updater.join();

    MessagePtr got = result_of(waiter, *group);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->bhdr.status, AmpeStatus::receiver_update) << describe(*got);
    EXPECT_EQ(got->bhdr.message_id, 4242U);
    EXPECT_EQ(got->thdrs.find("x-wake"), std::optional<std::string_view>{"up"});
    EXPECT_EQ(got->body.text(), "wake up body");
}

TEST(ReceiverUpdate, UpdatesArriveInOrderFromEachThread) {
    std::unique_ptr<Reactor> engine = Reactor::create(Options{});
    ChannelGroupPtr group = engine->create();
    constexpr std::size_t threads = 4;
    constexpr std::uint64_t per_thread = 50;
    std::thread producers{[&] {
        run_concurrently(threads, [&](std::size_t t) {
            for (std::uint64_t i = 0; i < per_thread; ++i) {
                MessagePtr msg = Message::create();
                msg->bhdr.message_id = (static_cast<std::uint64_t>(t) << 32U) | (i + 1);
                group->update_receiver(std::move(msg));
            }
        });
    }};
    std::array<std::uint64_t, threads> last{};
    for (std::uint64_t n = 0; n < threads * per_thread; ++n) {
        MessagePtr got = group->wait_receive(event_timeout);
        ASSERT_NE(got, nullptr) << "update #" << n << " never arrived";
        EXPECT_EQ(got->bhdr.status, AmpeStatus::receiver_update);
        const std::uint64_t thread = got->bhdr.message_id >> 32U;
        const std::uint64_t seq = got->bhdr.message_id & 0xFFFF'FFFFU;
        ASSERT_LT(thread, threads) << describe(*got);
        EXPECT_EQ(seq, last[thread] + 1) << "updates of thread " << thread << " out of order";
        last[thread] = seq;
    }
    producers.join();
    for (std::size_t t = 0; t < threads; ++t) {
        EXPECT_EQ(last[t], per_thread) << "thread " << t;
    }
}

TEST(ReceiverUpdate, ReachesOnlyItsOwnGroup) {
    std::unique_ptr<Reactor> engine = Reactor::create(Options{});
    ChannelGroupPtr a = engine->create();
    ChannelGroupPtr b = engine->create();
    b->update_receiver(make_message(*engine, OpCode::signal, 0, 2));
    a->update_receiver(make_message(*engine, OpCode::signal, 0, 1));
    MessagePtr got_a = receive(*a);
    EXPECT_EQ(got_a->bhdr.message_id, 1U) << "group a received group b's update";
    MessagePtr got_b = receive(*b);
    EXPECT_EQ(got_b->bhdr.message_id, 2U) << "group b received group a's update";
}

}  // namespace
}  // namespace tofu::test

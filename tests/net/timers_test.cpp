// Timers as messages (`ChannelGroup::update_receiver(msg, delay)`, `cancel_timer`): the engine
// thread delivers a timer's message when it is due, with nobody waiting in `wait_receive`, in
// deadline order, each exactly once; a cancelled one goes back to the pool; pending ones are
// released with their group or engine; once the engine has stopped a timer delivers at once.
// And the plain `update_receiver(msg)`: origin application, whatever the message was before.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "support/engine_helpers.hpp"

namespace tofu::test {
namespace {

using namespace std::chrono_literals;

/// Far enough never to fire during a test.
constexpr auto never = std::chrono::hours{1};

/// A Signal whose message id says which timer it is.
MessagePtr tagged(Ampe& engine, std::uint64_t id) {
    return make_message(engine, OpCode::signal, 0, id);
}

/// True for a message that a timer or `update_receiver` delivered.
bool is_update(const Message& m) {
    return m.bhdr.status == AmpeStatus::receiver_update && !m.is_from_engine();
}

/// Waits until the engine holds `count` pending timers (it counts them each loop turn).
void wait_pending(Reactor& engine, std::size_t count) {
    const auto until = std::chrono::steady_clock::now() + event_timeout;
    while (engine.memory().timers != count) {
        ASSERT_LT(std::chrono::steady_clock::now(), until)
            << "still " << engine.memory().timers << " timers pending, expected " << count;
        std::this_thread::yield();
    }
}

class Timers : public ::testing::Test {
protected:
    void SetUp() override {
        engine_ = Reactor::create(Options{});
        group_ = engine_->create();
    }

    std::unique_ptr<Reactor> engine_;
    ChannelGroupPtr group_;
};

TEST_F(Timers, ATimersMessageArrivesAsTheApplicationLeftItWithStatusReceiverUpdate) {
    MessagePtr msg = make_message(*engine_, OpCode::request, 7, 42, "time is up");
    msg->thdrs.append("job", "17");
    msg->bhdr.proto.origin = Origin::engine;  // whatever it was, it arrives as the application's
    msg->bhdr.status = AmpeStatus::pool_empty;
    const TimerId id = group_->update_receiver(std::move(msg), 1ms);
    EXPECT_NE(id, 0U);

    const MessagePtr got = receive(*group_);
    EXPECT_EQ(got->bhdr.status, AmpeStatus::receiver_update) << describe(*got);
    EXPECT_EQ(got->bhdr.proto.origin, Origin::application) << describe(*got);
    EXPECT_EQ(got->bhdr.proto.op_code, OpCode::request);
    EXPECT_EQ(got->bhdr.channel_number, 7U);
    EXPECT_EQ(got->bhdr.message_id, 42U);
    EXPECT_EQ(header_value(*got, "job"), "17");
    EXPECT_EQ(got->body.text(), "time is up");
    EXPECT_FALSE(group_->cancel_timer(id)) << "a timer that fired cannot be cancelled";
}

TEST_F(Timers, WithNoMessageATimerDeliversAnApplicationSignal) {
    EXPECT_NE(group_->update_receiver({}, 1ms), 0U);
    const MessagePtr got = receive(*group_);
    EXPECT_EQ(got->bhdr.proto.op_code, OpCode::signal) << describe(*got);
    EXPECT_EQ(got->bhdr.status, AmpeStatus::receiver_update) << describe(*got);
    EXPECT_FALSE(got->is_from_engine()) << describe(*got);
}

TEST_F(Timers, TimersFireInDeadlineOrder) {
    // Set out of order; all may be due by the time the engine looks, and still come out by deadline.
    for (const std::uint64_t ms : {30, 10, 50, 20, 40}) {
        (void)group_->update_receiver(tagged(*engine_, ms), std::chrono::milliseconds{ms});
    }
    for (const std::uint64_t ms : {10, 20, 30, 40, 50}) {
        const MessagePtr got = receive(*group_);
        EXPECT_EQ(got->bhdr.message_id, ms) << describe(*got);
    }
}

TEST_F(Timers, TimersWithTheSameDelayFireInTheOrderTheyWereSet) {
    constexpr std::uint64_t count = 200;
    for (std::uint64_t i = 1; i <= count; ++i) {
        (void)group_->update_receiver(tagged(*engine_, i), 5ms);
    }
    for (std::uint64_t i = 1; i <= count; ++i) {
        const MessagePtr got = receive(*group_);
        ASSERT_EQ(got->bhdr.message_id, i) << describe(*got);
    }
}

TEST_F(Timers, ATimerFiresWithNobodyWaitingToReceive) {
    (void)group_->update_receiver(tagged(*engine_, 1), 1ms);
    wait_pending(*engine_, 0);  // the engine took it, while no thread was in wait_receive
    EXPECT_EQ(receive(*group_)->bhdr.message_id, 1U);
}

TEST_F(Timers, AnEarlierTimerWakesAnEngineAsleepUntilALaterOne) {
    (void)group_->update_receiver(tagged(*engine_, 1), never);
    wait_pending(*engine_, 1);  // the engine has seen it, and sleeps until then
    (void)group_->update_receiver(tagged(*engine_, 2), 1ms);
    EXPECT_EQ(receive(*group_)->bhdr.message_id, 2U);
    EXPECT_EQ(engine_->memory().timers, 1U);
}

TEST_F(Timers, ACancelledTimerGoesBackToThePoolAndNeverArrives) {
    const std::size_t out_before = engine_->memory().pool_out;
    const TimerId cancelled = group_->update_receiver(tagged(*engine_, 1), 20ms);
    const TimerId kept = group_->update_receiver(tagged(*engine_, 2), 40ms);
    EXPECT_EQ(engine_->memory().timers, 2U);
    EXPECT_TRUE(group_->cancel_timer(cancelled));
    EXPECT_FALSE(group_->cancel_timer(cancelled)) << "cancelled once already";
    EXPECT_EQ(engine_->memory().timers, 1U);

    // Had it not been cancelled, the earlier timer would come first.
    const MessagePtr got = receive(*group_);
    EXPECT_EQ(got->bhdr.message_id, 2U) << describe(*got);
    EXPECT_FALSE(group_->cancel_timer(kept)) << "fired already";
    EXPECT_TRUE(drain(*group_).empty());
    EXPECT_EQ(engine_->memory().pool_out, out_before + 1) << "only the message we hold is out";
}

TEST_F(Timers, CancelNamesOnlyAPendingTimerOfThisGroup) {
    ChannelGroupPtr other = engine_->create();
    const TimerId id = group_->update_receiver(tagged(*engine_, 1), never);
    EXPECT_FALSE(group_->cancel_timer(0));
    EXPECT_FALSE(group_->cancel_timer(id + 1));
    EXPECT_FALSE(other->cancel_timer(id)) << "another group's timer";
    EXPECT_TRUE(group_->cancel_timer(id));
}

TEST_F(Timers, FiveThousandTimersAtOnceEachArriveExactlyOnce) {
    constexpr std::uint64_t count = 5000;
    for (std::uint64_t i = 1; i <= count; ++i) {
        const auto delay = std::chrono::microseconds{(i * 7919) % 20000 + 1};
        ASSERT_NE(group_->update_receiver(tagged(*engine_, i), delay), 0U);
    }
    std::set<std::uint64_t> seen;
    for (std::uint64_t i = 1; i <= count; ++i) {
        const MessagePtr got = receive(*group_);
        ASSERT_TRUE(is_update(*got)) << describe(*got);
        EXPECT_TRUE(seen.insert(got->bhdr.message_id).second) << "twice: " << describe(*got);
    }
    EXPECT_EQ(seen.size(), count);
    EXPECT_TRUE(drain(*group_).empty()) << "more than were set";
    EXPECT_EQ(engine_->memory().timers, 0U);
}

TEST_F(Timers, TimersSetAndCancelledFromManyThreadsArriveOnceUnlessCancelled) {
    constexpr std::size_t threads = 4;
    constexpr std::uint64_t per_thread = 500;
    std::atomic<std::uint64_t> cancelled{0};
    run_concurrently(threads, [&](std::size_t t) {
        for (std::uint64_t i = 0; i < per_thread; ++i) {
            const TimerId id = group_->update_receiver(tagged(*engine_, t * per_thread + i + 1),
                                                       std::chrono::microseconds{i % 50 + 1});
            if (i % 2 == 0 && group_->cancel_timer(id)) {
                ++cancelled;
            }
        }
    });
    const std::uint64_t expected = threads * per_thread - cancelled.load();
    std::set<std::uint64_t> seen;
    for (std::uint64_t i = 0; i < expected; ++i) {
        const MessagePtr got = receive(*group_);
        EXPECT_TRUE(seen.insert(got->bhdr.message_id).second) << "twice: " << describe(*got);
    }
    EXPECT_TRUE(drain(*group_).empty()) << "a cancelled timer arrived";
    EXPECT_EQ(engine_->memory().timers, 0U);
}

TEST_F(Timers, DestroyingAGroupReleasesItsPendingTimers) {
    const std::size_t out_before = engine_->memory().pool_out;
    ChannelGroupPtr doomed = engine_->create();
    for (std::uint64_t i = 1; i <= 100; ++i) {
        (void)doomed->update_receiver(tagged(*engine_, i), never);
        (void)doomed->update_receiver(Message::create(), never);  // standalone: a leak would show
    }
    const TimerId kept = group_->update_receiver(tagged(*engine_, 1000), never);
    EXPECT_EQ(engine_->memory().timers, 201U);
    doomed.reset();
    EXPECT_EQ(engine_->memory().timers, 1U) << "the other group's timer stays";
    EXPECT_EQ(engine_->memory().pool_out, out_before + 1);
    EXPECT_TRUE(group_->cancel_timer(kept));
}

TEST(TimersAndTheEngine, DestroyingTheEngineReleasesEveryPendingTimer) {
    // The group outlives its engine, then the other way round; each leaves timers pending, pool
    // messages and standalone ones (the asan preset fails on a leak).
    auto engine = Reactor::create(Options{});
    ChannelGroupPtr outliving = engine->create();
    ChannelGroupPtr dying = engine->create();
    for (std::uint64_t i = 1; i <= 50; ++i) {
        (void)outliving->update_receiver(tagged(*engine, i), never);
        (void)dying->update_receiver(tagged(*engine, i), never);
        (void)dying->update_receiver(Message::create(), never);
    }
    EXPECT_EQ(engine->memory().timers, 150U);
    dying.reset();
    engine.reset();
    EXPECT_TRUE(drain(*outliving).empty()) << "a dropped timer was delivered";
}

TEST(TimersAndTheEngine, ATimerOfAGroupWhoseEngineStoppedDeliversAtOnce) {
    auto engine = Reactor::create(Options{});
    ChannelGroupPtr group = engine->create();
    MessagePtr msg = engine->get(AllocationStrategy::always);
    msg->body.copy("after the engine");
    engine.reset();

    EXPECT_EQ(group->update_receiver(std::move(msg), never), 0U) << "nothing would fire it";
    const MessagePtr got = group->wait_receive(std::chrono::nanoseconds::zero());  // already queued
    ASSERT_NE(got, nullptr);
    EXPECT_TRUE(is_update(*got)) << describe(*got);
    EXPECT_EQ(got->body.text(), "after the engine");
    EXPECT_FALSE(group->cancel_timer(1));
}

TEST_F(Timers, ADelayOfZeroOrLessQueuesAtOnceBehindWhatIsQueued) {
    group_->update_receiver(tagged(*engine_, 1));
    EXPECT_EQ(group_->update_receiver(tagged(*engine_, 2), 0ns), 0U);
    EXPECT_EQ(group_->update_receiver(tagged(*engine_, 3), -5ms), 0U);
    EXPECT_EQ(engine_->memory().timers, 0U);
    for (const std::uint64_t id : {1, 2, 3}) {
        const MessagePtr got = group_->wait_receive(std::chrono::nanoseconds::zero());
        ASSERT_NE(got, nullptr) << "timer " << id << " was not queued at once";
        EXPECT_EQ(got->bhdr.message_id, id) << describe(*got);
        EXPECT_TRUE(is_update(*got)) << describe(*got);
    }
}

TEST_F(Timers, UpdateReceiverMakesAnEngineReportTheApplications) {
    MessagePtr report = engine_->get(AllocationStrategy::always);
    report->bhdr.proto.origin = Origin::engine;  // as a reused engine report would be
    report->bhdr.status = AmpeStatus::channel_closed;
    group_->update_receiver(std::move(report));
    const MessagePtr got = receive(*group_);
    EXPECT_FALSE(got->is_from_engine()) << describe(*got);
    EXPECT_EQ(got->bhdr.status, AmpeStatus::receiver_update) << describe(*got);
}

}  // namespace
}  // namespace tofu::test

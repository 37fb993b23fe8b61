// The application's timer table (`ChannelGroup::update_receiver(msg, delay)`): due timers come out
// by deadline and, for equal deadlines, in the order they were set; ids name one timer only while
// it is pending; a group's timers, or all of them, are dropped whole.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include <tofu/message.hpp>

#include "message/message_access.hpp"
#include "shared/app_timers.hpp"
#include "shared/message_queue.hpp"

namespace tofu::test {
namespace {

using tofu::detail::AppTimers;
using tofu::detail::MessageAccess;
using tofu::detail::MessageQueue;
using Clock = AppTimers::Clock;
using namespace std::chrono_literals;

// Two groups, as the table knows them: their addresses.
const int group_a = 1;
const int group_b = 2;

/// A standalone message naming `group`, its message id `id`.
MessagePtr timer_message(const void* group, std::uint64_t id) {
    MessagePtr msg = Message::create();
    msg->bhdr.message_id = id;
    MessageAccess::group_tag(*msg) =
        const_cast<void*>(group);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
    return msg;
}

AppTimers::Id set(AppTimers& timers, const void* group, std::uint64_t id, Clock::time_point when) {
    MessagePtr msg = timer_message(group, id);
    const AppTimers::Set s = timers.set(msg, when);
    EXPECT_EQ(msg, nullptr) << "a set timer owns its message";
    return s.id;
}

std::vector<std::uint64_t> ids_of(MessageQueue& due) {
    std::vector<std::uint64_t> ids;
    while (MessagePtr m = due.pop_front()) {
        ids.push_back(m->bhdr.message_id);
    }
    return ids;
}

TEST(AppTimers, DueTimersComeOutByDeadlineThenInSetOrder) {
    AppTimers timers;
    const Clock::time_point t0 = Clock::now();
    EXPECT_EQ(timers.earliest(), Clock::time_point::max()) << "none pending";
    (void)set(timers, &group_a, 30, t0 + 3s);
    (void)set(timers, &group_a, 10, t0 + 1s);
    (void)set(timers, &group_a, 21, t0 + 2s);
    (void)set(timers, &group_b, 22, t0 + 2s);
    (void)set(timers, &group_a, 23, t0 + 2s);
    EXPECT_EQ(timers.earliest(), t0 + 1s);
    EXPECT_EQ(timers.pending(), 5U);

    MessageQueue due;
    timers.take_due(t0 + 2s, due);
    EXPECT_EQ(ids_of(due), (std::vector<std::uint64_t>{10, 21, 22, 23}));
    EXPECT_EQ(timers.earliest(), t0 + 3s) << "the one left is the earliest now";
    timers.take_due(t0 + 2s, due);
    EXPECT_TRUE(due.empty()) << "nothing more is due";
    timers.take_due(t0 + 3s, due);
    EXPECT_EQ(ids_of(due), (std::vector<std::uint64_t>{30}));
    EXPECT_EQ(timers.pending(), 0U);
    EXPECT_EQ(timers.earliest(), Clock::time_point::max());
}

TEST(AppTimers, SetSaysWhenTheNewTimerIsTheEarliest) {
    AppTimers timers;
    const Clock::time_point t0 = Clock::now();
    MessagePtr first = timer_message(&group_a, 1);
    EXPECT_TRUE(timers.set(first, t0 + 2s).earliest);
    MessagePtr later = timer_message(&group_a, 2);
    EXPECT_FALSE(timers.set(later, t0 + 3s).earliest);
    MessagePtr same = timer_message(&group_a, 3);
    EXPECT_FALSE(timers.set(same, t0 + 2s).earliest) << "equal deadlines: the first set goes first";
    MessagePtr sooner = timer_message(&group_a, 4);
    EXPECT_TRUE(timers.set(sooner, t0 + 1s).earliest);
}

TEST(AppTimers, CancelTakesBackOnlyAPendingTimerOfItsGroup) {
    AppTimers timers;
    const Clock::time_point t0 = Clock::now();
    const AppTimers::Id first = set(timers, &group_a, 1, t0 + 1s);
    const AppTimers::Id second = set(timers, &group_a, 2, t0 + 2s);
    const AppTimers::Id third = set(timers, &group_a, 3, t0 + 3s);
    EXPECT_NE(first, 0U);
    EXPECT_NE(first, second);
    EXPECT_NE(second, third);

    EXPECT_EQ(timers.cancel(0, &group_a), nullptr) << "0 names no timer";
    EXPECT_EQ(timers.cancel(second, &group_b), nullptr) << "another group's timer";
    const MessagePtr back = timers.cancel(second, &group_a);
    ASSERT_NE(back, nullptr);
    EXPECT_EQ(back->bhdr.message_id, 2U);
    EXPECT_EQ(timers.cancel(second, &group_a), nullptr) << "cancelled already";
    EXPECT_EQ(timers.pending(), 2U);

    // The earliest cancelled: the next one is the earliest.
    EXPECT_NE(timers.cancel(first, &group_a), nullptr);
    EXPECT_EQ(timers.earliest(), t0 + 3s);

    MessageQueue due;
    timers.take_due(t0 + 3s, due);
    EXPECT_EQ(ids_of(due), (std::vector<std::uint64_t>{3}));
    EXPECT_EQ(timers.cancel(third, &group_a), nullptr) << "fired already";

    // A slot used again: the old id does not name the new timer.
    const AppTimers::Id reused = set(timers, &group_a, 4, t0 + 4s);
    EXPECT_NE(reused, first);
    EXPECT_NE(reused, second);
    EXPECT_NE(reused, third);
    EXPECT_EQ(timers.cancel(first, &group_a), nullptr);
    EXPECT_EQ(timers.cancel(second, &group_a), nullptr);
    EXPECT_EQ(timers.cancel(third, &group_a), nullptr);
    EXPECT_EQ(timers.pending(), 1U);
    EXPECT_NE(timers.cancel(reused, &group_a), nullptr);
}

TEST(AppTimers, ManyTimersSetAndCancelledAtRandomStillComeOutInOrder) {
    AppTimers timers;
    const Clock::time_point t0 = Clock::now();
    std::mt19937 random{28};
    std::uniform_int_distribution<int> delay_ms{0, 999};
    struct Kept {
        Clock::time_point when;
        std::uint64_t id;
    };
    std::vector<Kept> kept;
    std::vector<AppTimers::Id> ids;
    for (std::uint64_t i = 1; i <= 5000; ++i) {
        const Clock::time_point when = t0 + std::chrono::milliseconds{delay_ms(random)};
        ids.push_back(set(timers, &group_a, i, when));
        kept.push_back({when, i});
    }
    std::set<std::uint64_t> cancelled;
    for (std::size_t i = 0; i < ids.size(); i += 3) {
        ASSERT_NE(timers.cancel(ids[i], &group_a), nullptr);
        cancelled.insert(i + 1);
    }
    std::erase_if(kept, [&](const Kept& k) { return cancelled.contains(k.id); });
    std::stable_sort(kept.begin(), kept.end(), [](const Kept& a, const Kept& b) { return a.when < b.when; });
    std::vector<std::uint64_t> expected;
    expected.reserve(kept.size());
    for (const Kept& k : kept) {
        expected.push_back(k.id);
    }

    MessageQueue due;
    timers.take_due(t0 + 1s, due);
    EXPECT_EQ(ids_of(due), expected);
    EXPECT_EQ(timers.pending(), 0U);
}

TEST(AppTimers, DropGroupTakesOnlyThatGroupsTimers) {
    AppTimers timers;
    const Clock::time_point t0 = Clock::now();
    for (std::uint64_t i = 1; i <= 100; ++i) {
        (void)set(timers, i % 2 == 0 ? &group_a : &group_b, i, t0 + std::chrono::milliseconds{101 - i});
    }
    MessageQueue dropped;
    timers.drop_group(&group_b, dropped);
    EXPECT_EQ(dropped.size(), 50U);
    for (const std::uint64_t id : ids_of(dropped)) {
        EXPECT_EQ(id % 2, 1U);
    }
    EXPECT_EQ(timers.pending(), 50U);
    EXPECT_EQ(timers.earliest(), t0 + 1ms) << "timer 100, group a";

    MessageQueue due;
    timers.take_due(t0 + 1s, due);
    const std::vector<std::uint64_t> fired = ids_of(due);
    ASSERT_EQ(fired.size(), 50U);
    for (std::size_t i = 0; i < fired.size(); ++i) {
        EXPECT_EQ(fired[i], 100 - 2 * i) << "deadline order after the heap was rebuilt";
    }
}

TEST(AppTimers, ClosedTableDropsEverythingAndRefusesNewTimers) {
    AppTimers timers;
    const Clock::time_point t0 = Clock::now();
    (void)set(timers, &group_a, 1, t0 + 1s);
    (void)set(timers, &group_b, 2, t0 + 2s);
    MessageQueue dropped;
    timers.close(dropped);
    EXPECT_EQ(dropped.size(), 2U);
    EXPECT_EQ(timers.pending(), 0U);
    EXPECT_EQ(timers.earliest(), Clock::time_point::max());

    MessagePtr late = timer_message(&group_a, 3);
    const AppTimers::Set s = timers.set(late, t0 + 1s);
    EXPECT_EQ(s.id, 0U);
    EXPECT_NE(late, nullptr) << "refused: the message stays with the caller";
}

TEST(AppTimers, PendingTimersGoWithTheTable) {
    // Standalone messages: the leak checker of the asan preset fails the test if one stays behind.
    auto timers = std::make_unique<AppTimers>();
    for (std::uint64_t i = 1; i <= 10; ++i) {
        (void)set(*timers, &group_a, i, Clock::now() + std::chrono::hours{1});
    }
    EXPECT_EQ(timers->pending(), 10U);
    timers.reset();
}

}  // namespace
}  // namespace tofu::test

// Unit tests of the engine's inbox (src/shared/inbox.hpp): the ring of tickets and its overflow
// stack give back every post once, in post order per posting thread. Small rings reach the
// overflow on purpose. Bounded loops only; the thread test is for ThreadSanitizer too.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include <tofu/message.hpp>

#include "shared/inbox.hpp"
#include "shared/message_queue.hpp"
#include "support/latch.hpp"

namespace {

using tofu::Message;
using tofu::MessagePtr;
using tofu::detail::Inbox;
using tofu::detail::MessageQueue;

MessagePtr numbered(std::uint64_t id) {
    MessagePtr m = Message::create();
    m->bhdr.message_id = id;
    return m;
}

/// Takes what `inbox` has and returns the message ids, oldest first.
std::vector<std::uint64_t> take_ids(Inbox& inbox) {
    MessageQueue taken;
    inbox.take(taken);
    std::vector<std::uint64_t> ids;
    while (MessagePtr m = taken.pop_front()) {
        ids.push_back(m->bhdr.message_id);
    }
    return ids;
}

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
    std::vector<std::uint64_t> ids;
    for (std::uint64_t id = first; id < last; ++id) {
        ids.push_back(id);
    }
    return ids;
}

TEST(Inbox, GivesBackPostsInOrderAndIsEmptyAfterwards) {
    Inbox inbox{16};
    EXPECT_TRUE(inbox.empty());
    for (std::uint64_t id = 0; id < 10; ++id) {
        inbox.push(numbered(id));
    }
    EXPECT_FALSE(inbox.empty());
    EXPECT_EQ(take_ids(inbox), range(0, 10));
    EXPECT_TRUE(inbox.empty());
    EXPECT_TRUE(take_ids(inbox).empty());
}

TEST(Inbox, PostsBeyondAFullRingOverflowAndComeBackInOrder) {
    Inbox inbox{4};
    for (std::uint64_t id = 0; id < 100; ++id) {
        inbox.push(numbered(id));
    }
    EXPECT_EQ(take_ids(inbox), range(0, 100));
    EXPECT_TRUE(inbox.empty());
}

TEST(Inbox, OrderHoldsAcrossWrapsAndOverflowsInterleavedWithTakes) {
    Inbox inbox{8};
    std::uint64_t next = 0;
    std::vector<std::uint64_t> all;
    // Batches below, at and above the ring's size, so the ring wraps with and without overflow.
    for (const std::uint64_t batch : {3, 8, 5, 20, 1, 9, 7, 64, 2}) {
        for (std::uint64_t i = 0; i < batch; ++i) {
            inbox.push(numbered(next++));
        }
        const std::vector<std::uint64_t> ids = take_ids(inbox);
        all.insert(all.end(), ids.begin(), ids.end());
    }
    EXPECT_EQ(all, range(0, next));
}

TEST(Inbox, UntakenPostsAreFreedWithTheInbox) {
    // Under ASan: a leak of a ring or overflow message fails this test.
    Inbox inbox{4};
    for (std::uint64_t id = 0; id < 12; ++id) {
        inbox.push(numbered(id));
    }
}

TEST(InboxThreads, ManyPostersOneTakerLoseNothingAndKeepEachPostersOrder) {
    constexpr std::uint64_t posters = 4;
    constexpr std::uint64_t per_poster = 20'000;
    Inbox inbox{64};  // small, so the posters overflow it while the taker falls behind

    tofu::test::Latch start{static_cast<std::ptrdiff_t>(posters + 1)};
    std::vector<std::thread> threads;
    for (std::uint64_t p = 0; p < posters; ++p) {
        threads.emplace_back([&inbox, &start, p] {
            start.arrive_and_wait();
            for (std::uint64_t i = 0; i < per_poster; ++i) {
                inbox.push(numbered(p * per_poster + i));
            }
        });
    }
    start.arrive_and_wait();

    std::vector<std::uint64_t> next_of(posters, 0);
    std::uint64_t taken = 0;
    std::uint64_t out_of_order = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
    while (taken < posters * per_poster && std::chrono::steady_clock::now() < deadline) {
        for (const std::uint64_t id : take_ids(inbox)) {
            const std::uint64_t p = id / per_poster;
            if (id % per_poster != next_of[p]) {
                ++out_of_order;
            }
            next_of[p] = id % per_poster + 1;
            ++taken;
        }
    }
    for (std::thread& t : threads) {
        t.join();
    }
    EXPECT_EQ(taken, posters * per_poster);
    EXPECT_EQ(out_of_order, 0U);
    EXPECT_TRUE(inbox.empty());
}

TEST(InboxThreads, TakeClaimedWaitsForEveryPostThatTookItsTicket) {
    constexpr std::uint64_t posters = 3;
    constexpr std::uint64_t per_poster = 5'000;
    Inbox inbox{16};
    std::vector<std::thread> threads;
    for (std::uint64_t p = 0; p < posters; ++p) {
        threads.emplace_back([&inbox, p] {
            for (std::uint64_t i = 0; i < per_poster; ++i) {
                inbox.push(numbered(p * per_poster + i));
            }
        });
    }
    for (std::thread& t : threads) {
        t.join();
    }
    MessageQueue taken;
    inbox.take_claimed(taken);
    EXPECT_EQ(taken.size(), posters * per_poster);
    EXPECT_TRUE(inbox.empty());
    taken.clear();
}

}  // namespace

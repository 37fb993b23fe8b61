// `deadline_after` (engine/deadline.hpp): a channel's deadline from a timeout, saturating at the
// clock's end for a timeout too large for it.
#include <gtest/gtest.h>

#include <chrono>

#include "engine/deadline.hpp"

namespace tofu::test {
namespace {

using tofu::detail::deadline_after;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

TEST(DeadlineAfter, AnOrdinaryTimeoutIsAddedToNow) {
    const Clock::time_point now = Clock::now();
    EXPECT_EQ(deadline_after(now, milliseconds{0}), now);
    EXPECT_EQ(deadline_after(now, milliseconds{5000}), now + milliseconds{5000});
    EXPECT_EQ(deadline_after(now, milliseconds{2147483647}), now + milliseconds{2147483647});
}

TEST(DeadlineAfter, ATimeoutPastTheClocksRangeStopsAtItsEnd) {
    const Clock::time_point now = Clock::now();
    EXPECT_EQ(deadline_after(now, milliseconds::max()), Clock::time_point::max());
    // Just past what is left of the clock, and just within it.
    const auto room = std::chrono::floor<milliseconds>(Clock::time_point::max() - now);
    EXPECT_EQ(deadline_after(now, room), Clock::time_point::max());
    const Clock::time_point within = deadline_after(now, room - milliseconds{1});
    EXPECT_GT(within, now);
    EXPECT_LT(within, Clock::time_point::max());
}

}  // namespace
}  // namespace tofu::test

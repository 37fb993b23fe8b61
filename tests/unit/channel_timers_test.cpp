// The loop's deadline heap: due entries fire earliest first, and stale entries (channels that
// moved on) are swept instead of piling up for a whole timeout.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/channel_timers.hpp"

namespace tofu::test {
namespace {

using tofu::detail::ChannelTimers;
using Clock = ChannelTimers::Clock;

TEST(ChannelTimers, DueEntriesFireEarliestFirstAndLaterOnesWait) {
    ChannelTimers timers;
    const Clock::time_point t0 = Clock::now();
    const auto always = [](std::uint16_t, Clock::time_point) { return true; };
    timers.arm(3, t0 + std::chrono::seconds{3}, always);
    timers.arm(1, t0 + std::chrono::seconds{1}, always);
    timers.arm(2, t0 + std::chrono::seconds{2}, always);
    ASSERT_EQ(timers.earliest(), t0 + std::chrono::seconds{1});

    std::vector<std::uint16_t> fired;
    timers.expire(t0 + std::chrono::seconds{2},
                  [&](std::uint16_t channel, Clock::time_point) { fired.push_back(channel); });
    EXPECT_EQ(fired, (std::vector<std::uint16_t>{1, 2}));
    EXPECT_EQ(timers.earliest(), t0 + std::chrono::seconds{3});
}

TEST(ChannelTimers, StaleEntriesAreSweptSoTheHeapStaysNearItsLiveSize) {
    ChannelTimers timers;
    const Clock::time_point t0 = Clock::now();
    // Channel 7 stays armed at its first deadline; every other entry is stale once the next is armed
    // (a connection that said Hello and left, again and again).
    const Clock::time_point kept = t0 + std::chrono::hours{1};
    const auto armed = [&](std::uint16_t channel, Clock::time_point when) {
        return channel == 7 && when == kept;
    };
    timers.arm(7, kept, armed);
    std::size_t largest = 0;
    for (int i = 0; i < 100'000; ++i) {
        timers.arm(100, t0 + std::chrono::seconds{5} + std::chrono::microseconds{i}, armed);
        largest = std::max(largest, timers.size());
    }
    EXPECT_LE(largest, 2048U) << "stale entries piled up";

    std::vector<std::uint16_t> fired;
    timers.expire(kept, [&](std::uint16_t channel, Clock::time_point when) {
        if (armed(channel, when)) {
            fired.push_back(channel);
        }
    });
    EXPECT_EQ(fired, (std::vector<std::uint16_t>{7})) << "a sweep dropped a live entry";
}

}  // namespace
}  // namespace tofu::test

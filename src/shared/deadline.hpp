// Waiting on a condition variable for at most a caller's timeout, `wait_forever` included.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include <tofu/channel_group.hpp>

namespace tofu::detail {

/// Waits on `cv` until `ready()` holds or `timeout` passes (no limit for `wait_forever`). Measured
/// against steady_clock, so immune to wall-clock changes; far deadlines saturate instead of
/// overflowing.
template <class Predicate>
void wait_at_most(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                  std::chrono::nanoseconds timeout, Predicate ready) {
    if (timeout == wait_forever) {
        cv.wait(lock, ready);
        return;
    }
    using Clock = std::chrono::steady_clock;
    const auto now = Clock::now();
    const auto room = Clock::time_point::max() - now;
    const auto deadline = timeout >= room ? Clock::time_point::max()
                                          : now + std::chrono::duration_cast<Clock::duration>(timeout);
    cv.wait_until(lock, deadline, ready);
}

}  // namespace tofu::detail

// Channel deadlines (a handshake to finish, a drain to end, a paused listener to retry), earliest
// first. Entries are not removed one by one: a channel that moved on no longer matches its entry's
// time, and the loop skips the entry when it comes due. So that many short-lived connections do
// not pile up stale entries for a whole handshake timeout, the heap is swept of them whenever it
// has doubled since the last sweep.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <utility>
#include <vector>

namespace tofu::detail {

class ChannelTimers {
public:
    using Clock = std::chrono::steady_clock;

    /// Adds an entry; first, if the heap has doubled since the last sweep, drops every entry for
    /// which `armed(channel, when)` is false (amortised O(1) per entry).
    template <class Armed>
    void arm(std::uint16_t channel, Clock::time_point when, Armed&& armed) {
        if (heap_.size() >= sweep_at_) {
            std::vector<Entry> live;
            live.reserve(heap_.size());
            for (; !heap_.empty(); heap_.pop()) {
                if (armed(heap_.top().channel, heap_.top().when)) {
                    live.push_back(heap_.top());
                }
            }
            heap_ = decltype(heap_){std::greater<>{}, std::move(live)};
            sweep_at_ = std::max(min_sweep, 2 * heap_.size());
        }
        heap_.push(Entry{when, channel});
    }

    /// Entries held, stale ones included.
    [[nodiscard]] std::size_t size() const noexcept { return heap_.size(); }

    /// When the earliest entry is due, if there is one.
    [[nodiscard]] std::optional<Clock::time_point> earliest() const {
        return heap_.empty() ? std::nullopt : std::optional{heap_.top().when};
    }

    /// Removes every entry due by `now` and calls `fire(channel, when)` for it. `fire` may arm.
    template <class Fire>
    void expire(Clock::time_point now, Fire&& fire) {
        while (!heap_.empty() && heap_.top().when <= now) {
            const Entry due = heap_.top();
            heap_.pop();
            fire(due.channel, due.when);
        }
    }

private:
    struct Entry {
        Clock::time_point when;
        std::uint16_t channel;
        friend bool operator>(const Entry& a, const Entry& b) noexcept { return a.when > b.when; }
    };
    static constexpr std::size_t min_sweep = 1024;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
    std::size_t sweep_at_ = min_sweep;
};

}  // namespace tofu::detail

// Channel deadlines (a handshake to finish, a drain to end, a paused listener to retry), earliest
// first. Entries are never removed early: a channel that moved on no longer matches its entry's
// time, and the loop skips the entry when it comes due.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <vector>

namespace tofu::detail {

class ChannelTimers {
public:
    using Clock = std::chrono::steady_clock;

    void arm(std::uint16_t channel, Clock::time_point when) { heap_.push(Entry{when, channel}); }

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
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
};

}  // namespace tofu::detail

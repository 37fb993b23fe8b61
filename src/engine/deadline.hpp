// When a channel's timer fires: now plus a timeout from the options (or a HelloRequest's
// `~connect_timeout`). A timeout too large for the clock (`milliseconds::max()`, say) means
// "practically never": the deadline saturates at the clock's end instead of wrapping into the past
// (which would fire at once).
#pragma once

#include <chrono>

namespace tofu::detail {

/// `now + after`, or the clock's last time point when that lies past it.
[[nodiscard]] constexpr std::chrono::steady_clock::time_point deadline_after(
    std::chrono::steady_clock::time_point now, std::chrono::milliseconds after) noexcept {
    using Clock = std::chrono::steady_clock;
    // Compared in milliseconds: `after` in the clock's finer unit could itself overflow.
    const auto room = std::chrono::floor<std::chrono::milliseconds>(Clock::time_point::max() - now);
    return after >= room ? Clock::time_point::max() : now + after;
}

}  // namespace tofu::detail

// The application's timers (`ChannelGroup::update_receiver(msg, delay)`): messages that wait for a
// deadline, then go to their group through the engine thread, so one fires with nobody in
// `wait_receive`. Application threads set and cancel under a mutex; the engine thread reads the
// earliest deadline without it (an atomic), so a loop turn with no timer due takes no lock.
//
// A binary heap keyed by (deadline, the order they were set) over a table of slots that keeps its
// storage: setting allocates only when more timers are pending than ever before, and a timer is
// cancelled in O(log n) by its id (slot and the slot's generation), with nothing left behind.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <vector>

#include <tofu/message.hpp>

#include "shared/message_queue.hpp"

namespace tofu::detail {

class AppTimers {
public:
    using Clock = std::chrono::steady_clock;
    /// Names a pending timer; 0 names none. (Slot + 1 in the low half, its generation above.)
    using Id = std::uint64_t;

    AppTimers() = default;
    AppTimers(const AppTimers&) = delete;
    AppTimers& operator=(const AppTimers&) = delete;
    AppTimers(AppTimers&&) = delete;
    AppTimers& operator=(AppTimers&&) = delete;
    /// The messages still pending go back to their pool (declare the table after the pool).
    ~AppTimers();

    struct Set {
        Id id = 0;              ///< 0: not set, the table is closed (`msg` stays with the caller)
        bool earliest = false;  ///< due before every other timer: the engine must look again
    };
    /// Keeps `msg` until `when`, for the group its group tag names (set it first). Any thread.
    /// Throws `std::bad_alloc` only, with `msg` left with the caller.
    Set set(MessagePtr& msg, Clock::time_point when);

    /// Takes back pending timer `id` of `group`: its message, or null when the timer fired, was
    /// cancelled, belongs to another group or never was. Any thread.
    [[nodiscard]] MessagePtr cancel(Id id, const void* group) noexcept;

    /// When the earliest timer is due; `Clock::time_point::max()` when none is pending. Lock-free.
    [[nodiscard]] Clock::time_point earliest() const noexcept {
        return Clock::time_point{Clock::duration{earliest_.load(std::memory_order_acquire)}};
    }

    /// Engine thread: moves every timer due by `now` to the back of `due`, by deadline, then in
    /// the order they were set. A message's group tag names its group.
    void take_due(Clock::time_point now, MessageQueue& due) noexcept;

    /// Moves `group`'s pending timers to `dropped` (for the caller to release outside the lock).
    void drop_group(const void* group, MessageQueue& dropped) noexcept;

    /// Moves every pending timer to `dropped`; from now on `set` refuses (the engine has stopped).
    void close(MessageQueue& dropped) noexcept;

    /// Timers pending now.
    [[nodiscard]] std::size_t pending() const;

private:
    struct Slot {
        Message* msg = nullptr;  ///< owned while pending; null while the slot is free
        Clock::time_point when;
        std::uint64_t order = 0;       ///< set order: breaks ties between equal deadlines
        std::uint32_t place = 0;       ///< index in `heap_` while pending, next free slot while free
        std::uint32_t generation = 0;  ///< bumped when freed, so an old id no longer matches
    };
    static constexpr std::uint32_t no_slot = std::numeric_limits<std::uint32_t>::max();
    static constexpr Clock::rep none_pending = std::numeric_limits<Clock::rep>::max();

    [[nodiscard]] bool before(std::uint32_t a, std::uint32_t b) const noexcept;
    void put_at(std::size_t place, std::uint32_t slot) noexcept;
    void sift_up(std::size_t place) noexcept;
    void sift_down(std::size_t place) noexcept;
    /// Takes slot `slot` out of the heap and frees it; its message to the back of `out`.
    void remove(std::uint32_t slot, MessageQueue& out) noexcept;
    /// Frees `slot` (its message already taken).
    void free_slot(std::uint32_t slot) noexcept;
    void publish_earliest() noexcept;

    mutable std::mutex mutex_;
    std::vector<Slot> slots_;          ///< guarded by mutex_
    std::vector<std::uint32_t> heap_;  ///< slots by (when, order), earliest first; guarded by mutex_
    std::uint32_t free_ = no_slot;     ///< first free slot; guarded by mutex_
    std::uint64_t next_order_ = 0;     ///< guarded by mutex_
    bool closed_ = false;              ///< guarded by mutex_
    /// The earliest deadline's ticks (`none_pending` when none), written under mutex_.
    std::atomic<Clock::rep> earliest_{none_pending};
};

}  // namespace tofu::detail

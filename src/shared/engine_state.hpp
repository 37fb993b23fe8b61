// What application threads and the engine thread share, and the only door between them: the
// options, the pool, the channel-owner table, the inbox, the application's timers and the wake-up
// protocol. `EngineCore` (application threads) and `Loop` (the engine thread) each hold it; neither
// sees the other's insides.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include <tofu/ampe.hpp>

#include "shared/app_timers.hpp"
#include "shared/channel_owners.hpp"
#include "shared/inbox.hpp"
#include "shared/message_pool.hpp"
#include "shared/notifier.hpp"

namespace tofu::detail {

class EngineState {
public:
    /// `options` must be checked (EngineCore does it).
    explicit EngineState(const Options& options);
    ~EngineState();
    EngineState(const EngineState&) = delete;
    EngineState& operator=(const EngineState&) = delete;
    EngineState(EngineState&&) = delete;
    EngineState& operator=(EngineState&&) = delete;

    /// Marks an inbox message as a command (not a message to send).
    static constexpr std::uint16_t command_channel = internal_channel;

    // --- Any thread -------------------------------------------------------------------------

    [[nodiscard]] const Options& options() const noexcept { return options_; }
    [[nodiscard]] MessagePool& pool() noexcept { return *pool_; }
    [[nodiscard]] ChannelOwners& owners() noexcept { return owners_; }
    /// The application's timers (`ChannelGroup::update_receiver(msg, delay)`).
    [[nodiscard]] AppTimers& timers() noexcept { return timers_; }

    /// A message made by the engine (origin engine): an idle pool message, else a standalone one
    /// (never a new pool message).
    [[nodiscard]] MessagePtr engine_message(OpCode op, AmpeStatus status, std::uint16_t channel);
    /// Makes `msg` (a reset message) an engine message, as `engine_message` does.
    static void stamp_engine_message(Message& msg, OpCode op, AmpeStatus status,
                                     std::uint16_t channel) noexcept;

    // --- Application threads ----------------------------------------------------------------

    /// Hands a checked message to the engine thread (`wake` it afterwards).
    void push(MessagePtr msg) noexcept { inbox_.push(std::move(msg)); }
    /// Wakes the engine thread if it sleeps; free when it is awake.
    void wake() noexcept {
        // Load first: while the engine is awake this costs no write to its cache line.
        if (sleeping_.load(std::memory_order_seq_cst) &&
            sleeping_.exchange(false, std::memory_order_seq_cst)) {
            notifier_.notify();
        }
    }
    /// A timer was set that is due before every other: the engine looks at the deadlines again
    /// before it sleeps (and is woken if it sleeps already).
    void timer_set_earliest() noexcept {
        timer_changed_.store(true, std::memory_order_seq_cst);
        wake();
    }
    [[nodiscard]] bool accepting_posts() const noexcept {
        return accepting_posts_.load(std::memory_order_relaxed);
    }
    /// Tells the engine thread to stop and wakes it. Idempotent.
    void request_stop() noexcept;
    /// Pushes `command` unless the loop has finished; false when it has (nothing will answer).
    bool push_command(MessagePtr& command);
    /// Waits for the engine thread's count of what it holds (`Reactor::memory`); only the pool's
    /// when the loop is not running.
    [[nodiscard]] EngineMemory memory(bool loop_started);

    // --- The engine thread ------------------------------------------------------------------

    /// Takes the posted messages in post order.
    void take_posted(MessageQueue& out) { inbox_.take(out); }
    /// Takes every message already past its post's checks (waiting for a post under way).
    void take_claimed(MessageQueue& out) { inbox_.take_claimed(out); }
    [[nodiscard]] int notifier_fd() const noexcept { return notifier_.fd(); }
    void drain_notifier() noexcept { notifier_.drain(); }
    /// Before a poll that may block; the caller looks for work once more afterwards.
    void announce_sleep() noexcept { sleeping_.store(true, std::memory_order_seq_cst); }
    /// Back from the poller: no longer asleep. Written only when set, so that a busy engine never
    /// writes the line `wake` reads.
    void mark_awake() noexcept {
        if (sleeping_.load(std::memory_order_relaxed)) {
            sleeping_.store(false, std::memory_order_seq_cst);
        }
    }
    [[nodiscard]] bool stop_requested() const noexcept {
        return stop_requested_.load(std::memory_order_acquire);
    }
    /// True once after the pool's refill hook ran.
    [[nodiscard]] bool take_refill() noexcept { return pool_refilled_.exchange(false); }
    /// True once after `timer_set_earliest`: the loop takes the timers' earliest deadline again.
    /// Written only when set, as `mark_awake`.
    [[nodiscard]] bool take_timer_change() noexcept {
        return timer_changed_.load(std::memory_order_relaxed) && timer_changed_.exchange(false);
    }
    /// True once when a `memory` call waits for an answer.
    [[nodiscard]] bool take_memory_request() noexcept { return memory_wanted_.exchange(false); }
    /// Answers every `memory` call waiting (the pool's counts are added here).
    void answer_memory(EngineMemory counted);
    /// Posted messages, a refill, a count, a stop or a new earliest timer wait: the loop must not
    /// sleep.
    [[nodiscard]] bool work_waiting() const noexcept {
        return !inbox_.empty() || pool_refilled_.load() || stop_requested_.load() || memory_wanted_.load() ||
               timer_changed_.load();
    }
    /// From now on posts fail with `shutdown_started`.
    void stop_accepting_posts() noexcept { accepting_posts_.store(false); }
    /// The loop is done: commands are no longer taken, and a `memory` call gets the pool's counts.
    void finish_loop();

private:
    // The inbox first: it is cache-line aligned, and anything before it would pad it. It goes
    // last, after the pool closed: what it still holds returns to a closed pool, which is allowed.
    Inbox inbox_;
    MessagePool::Ptr pool_;
    ChannelOwners owners_;
    AppTimers timers_;  ///< after the pool: its messages go back before the pool closes
    Notifier notifier_;

    std::atomic<bool> sleeping_{false};  ///< the engine is (about to be) blocked in its poller
    std::atomic<bool> stop_requested_{false};
    std::atomic<bool> accepting_posts_{true};
    std::atomic<bool> pool_refilled_{false};  ///< set by the pool's refill hook
    std::atomic<bool> memory_wanted_{false};  ///< a `memory` call waits for the engine to count
    std::atomic<bool> timer_changed_{false};  ///< set by `timer_set_earliest`

    std::mutex lifecycle_mutex_;
    bool loop_finished_ = false;               ///< guarded by lifecycle_mutex_
    std::condition_variable memory_answered_;  ///< with lifecycle_mutex_
    std::uint64_t memory_asked_ = 0;           ///< `memory` calls so far; guarded by lifecycle_mutex_
    std::uint64_t memory_answers_ = 0;         ///< calls answered; guarded by lifecycle_mutex_
    EngineMemory memory_answer_;               ///< the latest answer; guarded by lifecycle_mutex_
    Options options_;
};

}  // namespace tofu::detail

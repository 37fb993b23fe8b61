// The engine's message pool: an array of idle messages behind a mutex, and a lock-free return path.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <tofu/message.hpp>
#include <tofu/options.hpp>

#include "shared/message_queue.hpp"

namespace tofu::detail {

/// Thread-safe pool of messages. `get` and `put` do not allocate while the pool has messages.
///
/// The pool outlives its owner while messages are out: `PoolPtr` closes it on destruction, and the
/// last message to come back deletes it. So an application may release messages after the
/// engine is gone.
class MessagePool final : public MessageHome {
public:
    struct Closer {
        void operator()(MessagePool* pool) const noexcept { pool->close(); }
    };
    using Ptr = std::unique_ptr<MessagePool, Closer>;

    /// Makes a pool holding `options.initial_pool_msgs` messages. Throws `Error(not_allowed)` for
    /// `max_pool_msgs` of 0 or below `initial_pool_msgs`.
    [[nodiscard]] static Ptr create(const Options& options);

    /// A message from the pool; with `pool_only`, null when the pool is empty (and the refill hook
    /// is armed), with `always`, a new message then.
    [[nodiscard]] MessagePtr get(AllocationStrategy strategy);

    /// An idle message, or null when none is idle; never allocates, never arms the refill hook.
    /// The engine's reports: made from an idle message when there is one.
    [[nodiscard]] MessagePtr try_get();

    /// A message for the engine's reads: an idle one, else a new one while the pool's messages
    /// (idle and out together) number fewer than `max_pool_msgs`; null at that cap, with the
    /// refill hook armed as for an empty `pool_only` get. So reading grows the pool from
    /// `initial_pool_msgs` to its maximum, and never past it.
    [[nodiscard]] MessagePtr get_for_read();

    /// Moves up to `at_most` idle messages to the back of `into` under one lock, without allocating
    /// and without arming the refill hook; returns how many. The engine's read targets.
    std::size_t take_idle(MessageQueue& into, std::size_t at_most);

    /// A message from the pool, waiting up to `timeout` for one to come back; null when none did
    /// (or the pool closed). Never allocates. It leaves a quarter of the pool's messages to the
    /// engine, so a sender that takes its messages this way cannot starve reception; and once it
    /// waits, it wakes when a batch (an eighth) has come back, not for every message.
    [[nodiscard]] MessagePtr wait_get(std::chrono::nanoseconds timeout);

    /// Returns a message. A standalone message (from `Message::create`) is adopted; a message of
    /// another pool goes back to that pool.
    void put(MessagePtr&& msg) noexcept;

    /// Called, under the pool's lock, when messages are back after a `pool_only` get found the pool
    /// empty, whichever call finds them first (a returner's, or the engine's own `take_idle`). It
    /// must be quick and must not call back into the pool. Set it before sharing the pool between
    /// threads.
    void set_refill_hook(std::function<void()> hook);

    /// Messages waiting in the pool (returned ones included).
    [[nodiscard]] std::size_t idle();
    /// Messages handed out and not yet back.
    [[nodiscard]] std::size_t outstanding();
    /// Threads asleep in `wait_get` (for tests).
    [[nodiscard]] int waiting() const;

    /// Takes a message back without the lock (one compare-and-swap and one add), unless someone
    /// waits for returns, the refill hook is armed, or the pool is closed.
    void take_back(Message* msg) noexcept override;

    /// Takes back a batch of this pool's messages at once (the engine's spares of a loop turn).
    /// Leaves `batch` empty.
    void take_back_all(MessageQueue& batch) noexcept;

    /// True for a message that came from this pool.
    [[nodiscard]] bool owns(const Message& msg) const noexcept;

    MessagePool(const MessagePool&) = delete;
    MessagePool& operator=(const MessagePool&) = delete;
    MessagePool(MessagePool&&) = delete;
    MessagePool& operator=(MessagePool&&) = delete;

private:
    /// An idle message and its body's storage: with both at hand, a get asks for the next one's
    /// lines and its body's together, without first reading the message (a miss of its own).
    struct Idle {
        Message* msg;
        const std::byte* body;
    };

    explicit MessagePool(std::uint32_t max_idle) noexcept : max_idle_{max_idle} {}

    /// When `acquire` finds no idle message: make none (and arm the refill hook), make one only
    /// while the pool holds fewer than its maximum, or make one anyway.
    enum class Make : std::uint8_t { never, below_max, always };
    /// `get` and `get_for_read`, under one lock.
    [[nodiscard]] MessagePtr acquire(Make make);
    ~MessagePool();

    /// Frees the idle messages; deletes the pool now if nothing is out, else when the last returns.
    void close() noexcept;
    struct Counts {
        std::size_t idle;
        std::size_t outstanding;
    };
    /// Both counts, after taking in what was returned so far.
    [[nodiscard]] Counts counts();
    Message* make_message();

    // --- The return path -----------------------------------------------------------------------
    // Returners push onto `returns_` (a lock-free stack) and then add to `tally_`, and that add is
    // the last thing they do to the pool unless its result asks them to "call": take the lock and
    // drain. The tally holds the messages counted (biased, so that a call is asked exactly when the
    // count crosses `alarm_bit`: armed for a waiting `wait_get`, a starved `get` or a full pool),
    // the number of adds, and the closed flag, which asks every returner to call. Because a
    // returner's last touch of the pool is that add or its locked call, the pool knows, under its
    // lock, when nobody can touch it any more and it may delete itself.
    static constexpr std::uint64_t closed_flag = std::uint64_t{1} << 63;
    static constexpr std::uint64_t one_add = std::uint64_t{1} << 40;
    static constexpr std::uint64_t count_mask = one_add - 1;
    static constexpr std::uint64_t adds_mask = (closed_flag - 1) & ~count_mask;
    static constexpr std::uint64_t alarm_bit = std::uint64_t{1} << 39;
    /// The alarm is never set further than this many returns: a returning thread then drains what
    /// it returned, while the messages are still in its cache (rather than the engine walking them
    /// cold), and the adds between two settles stay far below what their field holds.
    static constexpr std::uint64_t returns_batch = 64;

    /// Pushes the chain `first`..`last` (`n` reset messages) onto `returns_`, then counts it, and
    /// calls if asked. The pool may be gone when this returns.
    void push_returns(Message* first, Message* last, std::uint64_t n) noexcept;
    /// A returner asked to call: drain, announce, and delete the pool if it was the last.
    void answer_call() noexcept;
    /// Moves the returned messages onto the free list (or into `surplus` when the pool is full or
    /// closed), oldest first, and calls the refill hook if a starved engine waits for them. The
    /// caller holds the lock.
    void drain_locked(Message*& surplus) noexcept;
    /// Re-biases the tally: folds the returns counted so far into `returned_`, records the call
    /// they asked for, and arms the alarm for what the pool now waits for. Caller holds the lock.
    void settle_locked() noexcept;
    /// Drains until what was pushed before the alarm was armed has been seen, so a return that
    /// comes later is sure to be counted against it. Caller holds the lock.
    void drain_and_arm_locked(Message*& surplus) noexcept;
    /// Returns the alarm waits for now: one for a starved get, else the fewest of a waiter's batch,
    /// the room left under `max_idle_` plus one, and `returns_batch`.
    [[nodiscard]] std::uint64_t wanted_locked() const noexcept;
    /// Wakes a `wait_get` when enough came back for it; the caller holds the lock.
    void announce_locked() noexcept;
    /// Room on the free array for one more message (it grows by doubling when the pool's
    /// high-water mark rises); false when memory for it cannot be had.
    bool make_room_locked() noexcept;
    /// True when the pool is closed, every message is back and every caller is done: it may go.
    [[nodiscard]] bool finished_locked() const noexcept;
    /// Frees a chain made by `drain_locked`, then `finished` (a pool that may go; or null). Static:
    /// called after unlocking, when another thread may already have deleted the pool, so it must
    /// not be a member call on it.
    static void free_surplus(Message* surplus, MessagePool* finished) noexcept;
    /// `msg` as kept on the free array.
    [[nodiscard]] static Idle idle_entry(Message* msg) noexcept;
    /// Takes the first idle message; the caller holds the lock and checked the list is not empty.
    MessagePtr pop_locked() noexcept;
    /// Idle messages `wait_get` leaves to the engine; the caller holds the lock.
    [[nodiscard]] std::size_t reserve_locked() const noexcept { return (free_.size() + outstanding_) / 4; }
    /// Idle messages at which a waiting `wait_get` wakes; the caller holds the lock.
    [[nodiscard]] std::size_t wake_level_locked() const noexcept {
        return reserve_locked() + std::max<std::size_t>(1, (free_.size() + outstanding_) / 8);
    }

    mutable std::mutex mutex_;
    std::condition_variable returned_cv_;  ///< signalled when enough came back for `wait_get`
    /// The idle messages, as pointers beside their bodies': taking some reads none of them (a
    /// linked free list made every take a cache miss per message on the taking thread).
    std::vector<Idle> free_;
    std::size_t outstanding_ = 0;   ///< handed out and not drained back
    std::uint64_t handed_ = 0;      ///< messages ever handed out (adoptions included)
    std::uint64_t returned_ = 0;    ///< returns whose add was folded in by `settle_locked`
    std::uint64_t tally_base_ = 0;  ///< the count `settle_locked` last set in `tally_`
    std::uint64_t callers_ = 0;     ///< returners asked to call that have not called yet
    std::uint32_t max_idle_;
    int waiting_ = 0;  ///< threads in `wait_get`
    bool starved_ = false;
    bool closed_ = false;
    std::function<void()> refill_hook_;

    // Written by every returning thread: their own cache line, away from the locked state.
    alignas(64) std::atomic<Message*> returns_{nullptr};
    std::atomic<std::uint64_t> tally_{0};
};

}  // namespace tofu::detail

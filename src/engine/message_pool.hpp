// The engine's message pool: an intrusive free list behind one mutex.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include <tofu/message.hpp>
#include <tofu/options.hpp>

#include "engine/message_queue.hpp"

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

    /// A message from the pool, waiting up to `timeout` for one to come back; null when none did
    /// (or the pool closed). Never allocates. It leaves a quarter of the pool's messages to the
    /// engine, so a sender that takes its messages this way cannot starve reception; and once it
    /// waits, it wakes when a batch (an eighth) has come back, not for every message.
    [[nodiscard]] MessagePtr wait_get(std::chrono::nanoseconds timeout);

    /// Returns a message. A standalone message (from `Message::create`) is adopted; a message of
    /// another pool goes back to that pool.
    void put(MessagePtr&& msg) noexcept;

    /// Called, under the pool's lock, when a message comes back after a `pool_only` get found the
    /// pool empty. It must be quick and must not call back into the pool. Set it before sharing the
    /// pool between threads.
    void set_refill_hook(std::function<void()> hook);

    /// Messages waiting in the pool.
    [[nodiscard]] std::size_t idle() const;
    /// Messages handed out and not yet back.
    [[nodiscard]] std::size_t outstanding() const;

    void take_back(Message* msg) noexcept override;

    /// Takes back a batch of this pool's messages under one lock (the engine's spares of a loop
    /// turn). Leaves `batch` empty.
    void take_back_all(MessageQueue& batch) noexcept;

    /// True for a message that came from this pool.
    [[nodiscard]] bool owns(const Message& msg) const noexcept;

    MessagePool(const MessagePool&) = delete;
    MessagePool& operator=(const MessagePool&) = delete;
    MessagePool(MessagePool&&) = delete;
    MessagePool& operator=(MessagePool&&) = delete;

private:
    explicit MessagePool(std::uint32_t max_idle) noexcept : max_idle_{max_idle} {}
    ~MessagePool();

    /// Frees the idle messages; deletes the pool now if nothing is out, else when the last returns.
    void close() noexcept;
    Message* make_message();
    /// Files a returned, reset message: onto the free list, or into `surplus` when the pool is
    /// full or closed. The caller holds the lock.
    void file_locked(Message* msg, Message*& surplus) noexcept;
    /// Wakes `wait_get` and the refill hook as the idle count now warrants; the caller holds the lock.
    void announce_locked() noexcept;
    /// Frees a chain made by `file_locked`, and the pool itself when `delete_pool` (decided under
    /// the lock that returned the last outstanding message of a closed pool).
    void free_surplus(Message* surplus,
                      bool delete_pool) noexcept;  /// Takes the first idle message; the caller holds the lock
                                                   /// and checked the list is not empty.
    MessagePtr pop_locked() noexcept;
    /// Idle messages `wait_get` leaves to the engine; the caller holds the lock.
    [[nodiscard]] std::size_t reserve_locked() const noexcept { return (idle_ + outstanding_) / 4; }
    /// Idle messages at which a waiting `wait_get` wakes; the caller holds the lock.
    [[nodiscard]] std::size_t wake_level_locked() const noexcept {
        return reserve_locked() + std::max<std::size_t>(1, (idle_ + outstanding_) / 8);
    }

    mutable std::mutex mutex_;
    std::condition_variable returned_;  ///< signalled when a message comes back and someone waits
    Message* free_list_ = nullptr;
    std::size_t idle_ = 0;
    std::size_t outstanding_ = 0;
    std::uint32_t max_idle_;
    int waiting_ = 0;  ///< threads in `wait_get`
    bool starved_ = false;
    bool closed_ = false;
    std::function<void()> refill_hook_;
};

}  // namespace tofu::detail

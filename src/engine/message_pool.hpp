// The engine's message pool: an intrusive free list behind one mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include <tofu/message.hpp>
#include <tofu/options.hpp>

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

    mutable std::mutex mutex_;
    Message* free_list_ = nullptr;
    std::size_t idle_ = 0;
    std::size_t outstanding_ = 0;
    std::uint32_t max_idle_;
    bool starved_ = false;
    bool closed_ = false;
    std::function<void()> refill_hook_;
};

}  // namespace tofu::detail

// A channel group's receive queue: the engine thread delivers into it (a batch per loop turn,
// under one lock, with one wake-up), the application's receiver waits on it. It is all the engine
// knows of a group: channels, posted messages and deliveries name their group by its queue.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <tofu/message.hpp>

#include "shared/delivery_batch.hpp"
#include "shared/message_queue.hpp"
#include "shared/queue_watch.hpp"

namespace tofu::detail {

class ReceiveQueue {
public:
    explicit ReceiveQueue(std::uint32_t id) noexcept : id_{id} {}
    ReceiveQueue(const ReceiveQueue&) = delete;
    ReceiveQueue& operator=(const ReceiveQueue&) = delete;
    ReceiveQueue(ReceiveQueue&&) = delete;
    ReceiveQueue& operator=(ReceiveQueue&&) = delete;
    ~ReceiveQueue();

    /// The group's id in the engine's channel-owner table.
    [[nodiscard]] std::uint32_t id() const noexcept { return id_; }

    /// The next message, waiting up to `timeout` (looking for one for up to `spin` first, without
    /// sleeping); null when none came. One receiver at a time.
    [[nodiscard]] MessagePtr wait(std::chrono::nanoseconds timeout, std::chrono::nanoseconds spin);
    /// A new watch with a descriptor of its own (ChannelGroup::watch), raised and lowered with the
    /// queue from now on; raised at once when the queue holds messages. The consumer's thread.
    [[nodiscard]] std::shared_ptr<QueueWatch> new_watch();
    /// The group is going: every live watch refuses receives and stays readable.
    void orphan_watches() noexcept;

    /// The next message or null, never waiting (try_receive, a watch's too). One receiver at a time.
    [[nodiscard]] MessagePtr try_take() {
        return wait(std::chrono::nanoseconds::zero(), std::chrono::nanoseconds::zero());
    }
    /// Puts a message in the queue and wakes a waiting receiver. Any thread.
    void deliver(MessagePtr msg);
    /// Moves a batch into the queue under one lock, with one wake-up. Any thread.
    void deliver(MessageQueue& batch);

    /// Engine thread: messages gathered during one loop turn, delivered together by the engine.
    DeliveryBatch pending;
    bool pending_listed = false;

    /// Made with the group, so destroying it never needs to allocate: the command that asks the
    /// engine to let go of this queue.
    MessagePtr destroy_command;
    /// Engine thread: the engine let go of this queue (it will not touch it again).
    void acknowledge_destroy();
    /// Waits until the engine let go of this queue.
    void wait_released();

private:
    /// Pops from `taken_`, lowering the watch when that was the last queued message.
    MessagePtr take_next();
    /// Under mutex_: the queue went from empty to holding messages / from holding them to empty.
    void raise_watches() noexcept;
    void lower_watches() noexcept;

    const std::uint32_t id_;
    std::mutex mutex_;
    std::condition_variable ready_;
    MessageQueue queue_;  ///< guarded by mutex_
    /// `queue_` holds messages: what a receiver looking for work before it sleeps watches.
    std::atomic<bool> queued_{false};
    /// Taken from `queue_` by `wait` in one go and handed out from here without the lock. Only
    /// `wait` touches it, and it runs on one thread at a time.
    MessageQueue taken_;
    /// Raised and lowered under mutex_; changed only by the consumer (under mutex_), so the
    /// consumer may read it without. Owned by their watchers: an expired one is dropped.
    std::vector<std::weak_ptr<QueueWatch>> watches_;
    int waiting_ = 0;
    bool released_by_engine_ = false;
};

}  // namespace tofu::detail

// A channel group: the application-facing handle and its receive queue.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include <tofu/channel_group.hpp>

#include "engine/delivery_batch.hpp"
#include "engine/message_queue.hpp"

namespace tofu::detail {

class EngineCore;

class Group final : public ChannelGroup {
public:
    Group(std::shared_ptr<EngineCore> core, std::uint32_t id);
    /// Asks the engine to close this group's channels and waits until it let go of the group.
    ~Group() override;
    Group(const Group&) = delete;
    Group& operator=(const Group&) = delete;
    Group(Group&&) = delete;
    Group& operator=(Group&&) = delete;

    BinaryHeader post(MessagePtr& msg) override;
    [[nodiscard]] MessagePtr wait_receive(std::chrono::nanoseconds timeout) override;
    void update_receiver(MessagePtr msg) override;

    [[nodiscard]] std::uint32_t id() const noexcept { return id_; }

    /// Puts a message in the receive queue and wakes a waiting receiver. Any thread.
    void deliver(MessagePtr msg);
    /// Moves a batch into the receive queue under one lock, with one wake-up. Any thread.
    void deliver(MessageQueue& batch);

    /// Engine thread: messages gathered during one loop turn, delivered together by the engine.
    DeliveryBatch pending;
    bool pending_listed = false;

    /// Engine thread: the engine let go of this group (it will not touch it again).
    void acknowledge_destroy();

    /// Made with the group, so destroying it never needs to allocate.
    MessagePtr destroy_command;

private:
    std::shared_ptr<EngineCore> core_;
    const std::uint32_t id_;

    std::mutex mutex_;
    std::condition_variable ready_;
    MessageQueue queue_;  ///< guarded by mutex_
    /// `queue_` holds messages: what a receiver looking for work before it sleeps watches.
    std::atomic<bool> queued_{false};
    /// Taken from `queue_` by `wait_receive` in one go and handed out from here without the lock.
    /// Only `wait_receive` touches it, and it runs on one thread at a time.
    MessageQueue taken_;
    int waiting_ = 0;
    bool released_by_engine_ = false;
};

}  // namespace tofu::detail

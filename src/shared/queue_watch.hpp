// What one event-loop watcher holds for a group (ChannelGroup::watch, and the one behind
// native_handle): a notifier descriptor the receive queue raises when a message lands in it while
// it is empty and lowers when a receive takes the last message or finds none. Owned by the
// watcher; the queue knows it by a weak pointer. Once the group goes it is raised for good and
// its receives say invalid_group, so a watcher (an Asio receiver) may outlive the group.
#pragma once

#include <mutex>
#include <system_error>

#include <tofu/channel_group.hpp>

#include "shared/notifier.hpp"

namespace tofu::detail {

class ReceiveQueue;

class QueueWatch final : public ReceiveWatch {
public:
    /// Throws `Error(notification_failed)` when the OS refuses the descriptor.
    explicit QueueWatch(ReceiveQueue& queue);

    [[nodiscard]] NativeHandle native_handle() const noexcept override;
    [[nodiscard]] MessagePtr try_receive(std::error_code& ec) noexcept override;

    /// The group is going: receives now say invalid_group, and the descriptor stays readable.
    void orphan() noexcept;

    // Called by the queue under its lock: one raise and one lower per empty -> non-empty cycle.
    void raise() noexcept;
    void lower() noexcept;

private:
    Notifier notifier_;
    bool raised_ = false;  ///< guarded by the queue's lock
    /// Held by every call that reaches the queue, and by `orphan`: the group cannot go mid-call.
    std::mutex group_mutex_;
    ReceiveQueue* queue_;  ///< guarded by group_mutex_; null once the group went
};

}  // namespace tofu::detail

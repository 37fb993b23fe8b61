// A group's deliveries of one loop turn, linked so that its receiver can prefetch them.
#pragma once

#include <array>
#include <cstddef>
#include <utility>

#include "message/message_access.hpp"
#include "shared/message_queue.hpp"

namespace tofu::detail {

/// How far ahead a receiver asks for the messages it is about to take. The engine wrote them on
/// another core, so each is a cache miss; a few in flight at once overlap instead of queueing.
inline constexpr std::size_t prefetch_distance = 4;

/// The messages the engine gathers for one group during a loop turn, in order. Each points at the
/// one `prefetch_distance` places behind it (`MessageAccess::ahead`; the last ones at none), set
/// as it is added, while the engine still has it in its cache. The receiver, taking a message,
/// asks for that one's lines: following the queue's links instead, it could only find them one
/// miss after another.
class DeliveryBatch {
public:
    void push_back(MessagePtr msg) noexcept {
        Message* m = msg.get();
        MessageAccess::ahead(*m) = nullptr;
        // The slot holds the message `prefetch_distance` places back once there are that many; a
        // slot left from an earlier batch is overwritten before it is read.
        Message*& behind = recent_[messages_.size() % prefetch_distance];
        if (messages_.size() >= prefetch_distance) {
            MessageAccess::ahead(*behind) = m;
        }
        behind = m;
        messages_.push_back(std::move(msg));
    }

    /// The messages, to hand over; the batch starts anew.
    [[nodiscard]] MessageQueue take() noexcept { return std::move(messages_); }

private:
    MessageQueue messages_;
    std::array<Message*, prefetch_distance> recent_{};
};

}  // namespace tofu::detail

// An intrusive FIFO of messages, linked through the messages themselves: pushing and popping
// never allocate. Owns what it holds; what is left when it dies goes back to the pool.
#pragma once

#include <cstddef>
#include <utility>

#include <tofu/message.hpp>

#include "message/message_access.hpp"

namespace tofu::detail {

class MessageQueue {
public:
    MessageQueue() = default;
    MessageQueue(const MessageQueue&) = delete;
    MessageQueue& operator=(const MessageQueue&) = delete;
    MessageQueue(MessageQueue&& o) noexcept
        : head_{std::exchange(o.head_, nullptr)},
          tail_{std::exchange(o.tail_, nullptr)},
          size_{std::exchange(o.size_, 0)} {}
    MessageQueue& operator=(MessageQueue&& o) noexcept {
        if (this != &o) {
            clear();
            head_ = std::exchange(o.head_, nullptr);
            tail_ = std::exchange(o.tail_, nullptr);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    ~MessageQueue() { clear(); }

    [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] Message* front() const noexcept { return head_; }
    [[nodiscard]] Message* back() const noexcept { return tail_; }
    [[nodiscard]] static Message* next_of(Message* m) noexcept { return MessageAccess::next(*m); }

    void push_back(MessagePtr msg) noexcept { push_back_raw(msg.release()); }

    void push_front(MessagePtr msg) noexcept {
        Message* m = msg.release();
        MessageAccess::next(*m) = head_;
        head_ = m;
        if (tail_ == nullptr) {
            tail_ = m;
        }
        ++size_;
    }

    /// Puts `msg` second, behind the front message (which may be partly written); first when empty.
    void insert_after_front(MessagePtr msg) noexcept {
        if (head_ == nullptr) {
            push_back(std::move(msg));
            return;
        }
        Message* m = msg.release();
        MessageAccess::next(*m) = MessageAccess::next(*head_);
        MessageAccess::next(*head_) = m;
        if (tail_ == head_) {
            tail_ = m;
        }
        ++size_;
    }

    /// Appends a message the queue now owns.
    void push_back_raw(Message* m) noexcept {
        MessageAccess::next(*m) = nullptr;
        if (tail_ == nullptr) {
            head_ = m;
        } else {
            MessageAccess::next(*tail_) = m;
        }
        tail_ = m;
        ++size_;
    }

    MessagePtr pop_front() noexcept {
        Message* m = head_;
        if (m == nullptr) {
            return {};
        }
        head_ = MessageAccess::next(*m);
        if (head_ == nullptr) {
            tail_ = nullptr;
        }
        MessageAccess::next(*m) = nullptr;
        --size_;
        return MessagePtr{m};
    }

    /// Puts `fresh` in the place of `old`, which follows `before` (null: `old` is the front), and
    /// hands `old` back.
    MessagePtr replace(Message* before, Message* old, MessagePtr fresh) noexcept {
        Message* f = fresh.release();
        MessageAccess::next(*f) = MessageAccess::next(*old);
        (before == nullptr ? head_ : MessageAccess::next(*before)) = f;
        if (tail_ == old) {
            tail_ = f;
        }
        MessageAccess::next(*old) = nullptr;
        return MessagePtr{old};
    }

    /// Moves every message of `other` to the back of this queue.
    void splice_back(MessageQueue& other) noexcept {
        if (other.empty()) {
            return;
        }
        if (tail_ == nullptr) {
            head_ = other.head_;
        } else {
            MessageAccess::next(*tail_) = other.head_;
        }
        tail_ = other.tail_;
        size_ += other.size_;
        other.head_ = other.tail_ = nullptr;
        other.size_ = 0;
    }

    /// Moves the `n` oldest messages (all of them, when there are fewer) to a new queue.
    [[nodiscard]] MessageQueue take_front(std::size_t n) noexcept {
        MessageQueue front;
        if (n >= size_) {
            front.splice_back(*this);
            return front;
        }
        if (n == 0) {
            return front;
        }
        Message* last = head_;
        for (std::size_t i = 1; i < n; ++i) {
            last = MessageAccess::next(*last);
        }
        front.head_ = std::exchange(head_, MessageAccess::next(*last));
        front.tail_ = last;
        front.size_ = n;
        MessageAccess::next(*last) = nullptr;
        size_ -= n;
        return front;
    }

    /// Gives up the messages as a chain linked through `next`, oldest first; the caller owns them.
    [[nodiscard]] Message* release_all() noexcept {
        Message* chain = std::exchange(head_, nullptr);
        tail_ = nullptr;
        size_ = 0;
        return chain;
    }

    void clear() noexcept {
        while (!empty()) {
            pop_front();
        }
    }

private:
    Message* head_ = nullptr;
    Message* tail_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace tofu::detail

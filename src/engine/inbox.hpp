// The engine's inbox: many threads post, the engine thread takes everything at once. A lock-free
// stack (one compare-and-swap per post) that the single consumer empties with one exchange and
// reverses, so the consumer sees posts in order. Only the consumer removes, and it removes the
// whole chain, so there is no ABA problem.
#pragma once

#include <atomic>

#include "engine/message_queue.hpp"

namespace tofu::detail {

class Inbox {
public:
    Inbox() = default;
    Inbox(const Inbox&) = delete;
    Inbox& operator=(const Inbox&) = delete;
    Inbox(Inbox&&) = delete;
    Inbox& operator=(Inbox&&) = delete;
    ~Inbox() { take_all().clear(); }

    void push(MessagePtr msg) noexcept {
        Message* m = msg.release();
        Message* head = head_.load(std::memory_order_relaxed);
        do {
            MessageAccess::next(*m) = head;
        } while (!head_.compare_exchange_weak(head, m, std::memory_order_seq_cst, std::memory_order_relaxed));
    }

    [[nodiscard]] bool empty() const noexcept { return head_.load(std::memory_order_seq_cst) == nullptr; }

    /// Everything posted so far, oldest first.
    MessageQueue take_all() noexcept {
        Message* m = head_.exchange(nullptr, std::memory_order_acquire);
        Message* reversed = nullptr;
        while (m != nullptr) {
            // The walk waits on each link (written on the poster's core); fetch the rest of the
            // message meanwhile, which the engine reads next.
            __builtin_prefetch(m);
            Message* next = MessageAccess::next(*m);
            MessageAccess::next(*m) = reversed;
            reversed = m;
            m = next;
        }
        MessageQueue q;
        while (reversed != nullptr) {
            Message* next = MessageAccess::next(*reversed);
            q.push_back_raw(reversed);
            reversed = next;
        }
        return q;
    }

private:
    std::atomic<Message*> head_{nullptr};
};

}  // namespace tofu::detail

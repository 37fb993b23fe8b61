// The engine's inbox: many threads post, the engine thread takes everything in post order.
//
// A post takes a ticket (one fetch-add) and puts its message in the ring slot of that ticket. The
// engine reads the slots in ticket order: consecutive pointers, so the misses on messages written
// on other cores overlap instead of queueing behind one another as in a linked list. A ticket
// whose slot is still taken (the ring is full: the engine is a whole ring behind) goes to an
// overflow stack instead, marked with its ticket; the engine merges it back in ticket order.
// Nothing blocks a post and nothing is allocated per post; the ring is allocated once.
//
// The price of tickets: a post that took its ticket but has not yet stored its message holds back
// the posts after it until it does (a few instructions, unless its thread is preempted there).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "shared/message_queue.hpp"
#include "shared/prefetch.hpp"

namespace tofu::detail {

class Inbox {
public:
    /// `slots`: the ring's size, a power of two (tests use small rings to reach the overflow).
    explicit Inbox(std::size_t slots = default_slots)
        : mask_{slots - 1}, ring_{std::make_unique<std::atomic<Message*>[]>(slots)} {}
    Inbox(const Inbox&) = delete;
    Inbox& operator=(const Inbox&) = delete;
    Inbox(Inbox&&) = delete;
    Inbox& operator=(Inbox&&) = delete;
    ~Inbox() {
        MessageQueue rest;  // frees what it holds
        take_claimed(rest);
    }

    static constexpr std::size_t default_slots = 4096;

    /// Any thread.
    void push(MessagePtr msg) noexcept {
        Message* m = msg.release();
        // seq_cst: the engine announces sleep, then reads tail_ (see EngineCore::wake).
        const std::uint64_t ticket = tail_.fetch_add(1, std::memory_order_seq_cst);
        if (ticket - head_.load(std::memory_order_acquire) <= mask_) {
            ring_[ticket & mask_].store(m, std::memory_order_release);
            return;
        }
        MessageAccess::inbox_ticket(*m) = ticket;
        Message* top = overflow_.load(std::memory_order_relaxed);
        do {
            MessageAccess::next(*m) = top;
        } while (
            !overflow_.compare_exchange_weak(top, m, std::memory_order_release, std::memory_order_relaxed));
    }

    /// Engine thread: true when no post took a ticket since the last take.
    [[nodiscard]] bool empty() const noexcept {
        return tail_.load(std::memory_order_seq_cst) == head_.load(std::memory_order_relaxed);
    }

    /// Engine thread: appends to `out`, in post order, every message posted so far, stopping at
    /// the first post still under way.
    void take(MessageQueue& out) {
        const std::uint64_t first = head_.load(std::memory_order_relaxed);
        std::uint64_t h = first;
        for (;;) {
            std::atomic<Message*>& slot = ring_[h & mask_];
            Message* m = slot.load(std::memory_order_acquire);
            if (m != nullptr) {
                slot.store(nullptr, std::memory_order_relaxed);
            } else if ((m = take_overflow(h)) == nullptr) {
                break;
            }
            prefetch_message(m);  // on its way while the rest are taken
            out.push_back_raw(m);
            ++h;
        }
        if (h != first) {  // posters read head_: no write to its line when nothing was taken
            head_.store(h, std::memory_order_release);  // the slots cleared above are free again
        }
    }

    /// Engine thread (or after it ended): as `take`, but waits for the posts under way, so that
    /// every post that took its ticket before this call is in `out`.
    void take_claimed(MessageQueue& out) {
        const std::uint64_t claimed = tail_.load(std::memory_order_seq_cst);
        take(out);
        while (head_.load(std::memory_order_relaxed) < claimed) {
            std::this_thread::yield();  // a poster between its ticket and its store
            take(out);
        }
    }

private:
    /// The overflowed message of ticket `h`, or null when it is not (yet) there.
    Message* take_overflow(std::uint64_t h) {
        if (!overflowed_next_is(h) && overflow_.load(std::memory_order_relaxed) != nullptr) {
            gather_overflow();  // only when something new overflowed: no sort per empty look
        }
        return overflowed_next_is(h) ? overflowed_[overflow_next_++] : nullptr;
    }

    [[nodiscard]] bool overflowed_next_is(std::uint64_t h) const noexcept {
        return overflow_next_ < overflowed_.size() && ticket_of(overflowed_[overflow_next_]) == h;
    }

    /// Moves the overflow stack into `overflowed_`, kept sorted by ticket from `overflow_next_`.
    void gather_overflow() {
        overflowed_.erase(overflowed_.begin(),
                          overflowed_.begin() + static_cast<std::ptrdiff_t>(overflow_next_));
        overflow_next_ = 0;
        for (Message* m = overflow_.exchange(nullptr, std::memory_order_acquire); m != nullptr;) {
            Message* next = MessageAccess::next(*m);
            overflowed_.push_back(m);  // allocates only while the ring is full
            m = next;
        }
        std::ranges::sort(overflowed_, {}, ticket_of);
    }

    static std::uint64_t ticket_of(Message* m) noexcept { return MessageAccess::inbox_ticket(*m); }

    // Posters write tail_, the engine writes head_: a cache line each. The third line is read by
    // both and written only when the ring is full.
    alignas(64) std::atomic<std::uint64_t> tail_{0};       ///< the next ticket (posters)
    alignas(64) std::atomic<std::uint64_t> head_{0};       ///< the first ticket not taken (engine)
    alignas(64) std::atomic<Message*> overflow_{nullptr};  ///< posts that found their slot taken
    const std::uint64_t mask_;
    const std::unique_ptr<std::atomic<Message*>[]> ring_;
    std::vector<Message*> overflowed_;  ///< engine: overflowed posts not taken yet, by ticket
    std::size_t overflow_next_ = 0;     ///< engine: the first of them not taken
};

}  // namespace tofu::detail

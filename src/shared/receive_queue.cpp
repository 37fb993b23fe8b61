#include "shared/receive_queue.hpp"

#include <algorithm>
#include <thread>
#include <utility>

#include "shared/deadline.hpp"
#include "shared/prefetch.hpp"

namespace tofu::detail {
namespace {

/// Hands out `msg` after asking for the lines of the message it points ahead to (`DeliveryBatch`).
MessagePtr prefetching_ahead(MessagePtr msg) noexcept {
    if (msg) {
        if (const Message* ahead = std::exchange(MessageAccess::ahead(*msg), nullptr)) {
            prefetch_message(ahead);
        }
    }
    return msg;
}

}  // namespace

ReceiveQueue::~ReceiveQueue() {
    taken_.clear();  // back to the pool
    queue_.clear();
}

void ReceiveQueue::acknowledge_destroy() {
    const std::lock_guard lock{mutex_};
    released_by_engine_ = true;
    ready_.notify_all();
}

void ReceiveQueue::wait_released() {
    std::unique_lock lock{mutex_};
    ready_.wait(lock, [this] { return released_by_engine_; });
}

MessagePtr ReceiveQueue::take_next() {
    MessagePtr msg = prefetching_ahead(taken_.pop_front());
    if (!watches_.empty() && taken_.empty()) {  // the consumer's own fields
        const std::lock_guard lock{mutex_};
        if (queue_.empty()) {
            lower_watches();  // the last queued message was just taken
        }
    }
    return msg;
}

MessagePtr ReceiveQueue::wait(std::chrono::nanoseconds timeout, std::chrono::nanoseconds spin) {
    if (!taken_.empty()) {
        return take_next();
    }
    if (timeout > std::chrono::nanoseconds::zero()) {
        // Look for a delivery a little while before sleeping: a sleeper costs its waker a system
        // call and itself a wake-up. Yielding, so whoever would deliver can run.
        const auto until = std::chrono::steady_clock::now() + std::min(spin, timeout);
        while (!queued_.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < until) {
            std::this_thread::yield();
        }
    }
    std::unique_lock lock{mutex_};
    if (queue_.empty() && timeout > std::chrono::nanoseconds::zero()) {
        ++waiting_;
        wait_at_most(ready_, lock, timeout, [this] { return !queue_.empty(); });
        --waiting_;
    }
    taken_.splice_back(queue_);  // the whole queue at once: the next calls take no lock
    queued_.store(false, std::memory_order_relaxed);
    if (taken_.empty() && !watches_.empty()) {
        lower_watches();  // nothing queued (a timed-out wait may have raised nothing)
    }
    lock.unlock();
    // The first few have nothing behind them pointing at them.
    Message* m = taken_.front();
    for (std::size_t i = 0; i < prefetch_distance && m != nullptr; ++i, m = MessageQueue::next_of(m)) {
        prefetch_message(m);
    }
    return take_next();
}

std::shared_ptr<QueueWatch> ReceiveQueue::new_watch() {
    auto watch = std::make_shared<QueueWatch>(*this);
    const std::lock_guard lock{mutex_};
    std::erase_if(watches_, [](const std::weak_ptr<QueueWatch>& w) { return w.expired(); });
    watches_.push_back(watch);
    if (!queue_.empty() || !taken_.empty()) {
        watch->raise();
    }
    return watch;
}

void ReceiveQueue::orphan_watches() noexcept {
    std::vector<std::shared_ptr<QueueWatch>> live;
    {
        const std::lock_guard lock{mutex_};
        for (const std::weak_ptr<QueueWatch>& w : watches_) {
            if (auto watch = w.lock()) {
                live.push_back(std::move(watch));
            }
        }
    }
    for (const std::shared_ptr<QueueWatch>& watch : live) {
        watch->orphan();  // outside mutex_: a watch's receive holds its lock, then ours
    }
}

void ReceiveQueue::raise_watches() noexcept {
    for (const std::weak_ptr<QueueWatch>& w : watches_) {
        if (const auto watch = w.lock()) {
            watch->raise();
        }
    }
}

void ReceiveQueue::lower_watches() noexcept {
    for (const std::weak_ptr<QueueWatch>& w : watches_) {
        if (const auto watch = w.lock()) {
            watch->lower();
        }
    }
}

// An application thread's delivery (update_receiver) notifies under the lock: the receiver it wakes
// may destroy the group as soon as it has the message, and cannot take it before this unlock, after
// which nothing here is touched. The engine's batches notify after unlocking (a receiver woken
// under the lock would only block again on the mutex the engine still holds): the queue outlives
// every engine delivery, since its group's destructor waits for the engine to let go.
void ReceiveQueue::deliver(MessagePtr msg) {
    const std::lock_guard lock{mutex_};
    queue_.push_back(std::move(msg));
    queued_.store(true, std::memory_order_release);
    raise_watches();
    if (waiting_ != 0) {
        ready_.notify_one();
    }
}

void ReceiveQueue::deliver(MessageQueue& batch) {
    bool wake = false;
    {
        const std::lock_guard lock{mutex_};
        queue_.splice_back(batch);
        queued_.store(true, std::memory_order_release);
        raise_watches();
        wake = waiting_ != 0;
    }
    if (wake) {
        ready_.notify_all();
    }
}

}  // namespace tofu::detail

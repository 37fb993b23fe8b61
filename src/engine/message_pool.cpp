#include "engine/message_pool.hpp"

#include <string>

#include "engine/deadline.hpp"
#include "message/message_access.hpp"

namespace tofu::detail {

MessagePool::Ptr MessagePool::create(const Options& options) {
    if (options.max_pool_msgs == 0 || options.max_pool_msgs < options.initial_pool_msgs) {
        throw Error{AmpeStatus::not_allowed, "pool options: max_pool_msgs (" +
                                                 std::to_string(options.max_pool_msgs) +
                                                 ") must be at least 1 and at least initial_pool_msgs (" +
                                                 std::to_string(options.initial_pool_msgs) + ")"};
    }
    Ptr pool{new MessagePool{options.max_pool_msgs}};
    for (std::uint32_t i = 0; i < options.initial_pool_msgs; ++i) {
        Message* m = pool->make_message();
        MessageAccess::next(*m) = pool->free_list_;
        pool->free_list_ = m;
        ++pool->idle_;
    }
    return pool;
}

MessagePool::~MessagePool() {
    while (free_list_ != nullptr) {
        Message* m = free_list_;
        free_list_ = MessageAccess::next(*m);
        delete m;
    }
}

Message* MessagePool::make_message() {
    Message* m = MessageAccess::make();
    MessageAccess::home(*m) = this;
    return m;
}

MessagePtr MessagePool::pop_locked() noexcept {
    Message* m = free_list_;
    free_list_ = MessageAccess::next(*m);
    MessageAccess::next(*m) = nullptr;
    --idle_;
    ++outstanding_;
    return MessagePtr{m};
}

MessagePtr MessagePool::get(AllocationStrategy strategy) {
    {
        const std::lock_guard lock{mutex_};
        if (free_list_ != nullptr) {
            return pop_locked();
        }
        if (strategy == AllocationStrategy::pool_only) {
            starved_ = true;
            return {};
        }
        ++outstanding_;
    }
    try {
        return MessagePtr{make_message()};
    } catch (...) {
        const std::lock_guard lock{mutex_};
        --outstanding_;
        throw;
    }
}

MessagePtr MessagePool::wait_get(std::chrono::nanoseconds timeout) {
    std::unique_lock lock{mutex_};
    if (idle_ <= reserve_locked() && !closed_ && timeout > std::chrono::nanoseconds::zero()) {
        ++waiting_;
        wait_at_most(returned_, lock, timeout, [this] { return idle_ >= wake_level_locked() || closed_; });
        --waiting_;
    }
    if (idle_ <= reserve_locked() || closed_) {
        return {};
    }
    return pop_locked();
}

void MessagePool::put(MessagePtr&& msg) noexcept {
    if (!msg) {
        return;
    }
    MessageHome*& home = MessageAccess::home(*msg);
    if (home == nullptr) {
        // Adopt a standalone message: count it as handed out, then take it back below.
        const std::lock_guard lock{mutex_};
        home = this;
        ++outstanding_;
    }
    msg.reset();  // goes to its home through the deleter
}

void MessagePool::take_back(Message* msg) noexcept {
    msg->reset();
    Message* surplus = nullptr;  // freed after unlocking: no allocator work under the lock
    bool last = false;
    {
        const std::lock_guard lock{mutex_};
        file_locked(msg, surplus);
        announce_locked();
        last = closed_ && outstanding_ == 0;
    }
    free_surplus(surplus, last);
}

void MessagePool::take_back_all(MessageQueue& batch) noexcept {
    if (batch.empty()) {
        return;
    }
    for (Message* m = batch.front(); m != nullptr; m = MessageQueue::next_of(m)) {
        m->reset();
    }
    Message* surplus = nullptr;
    bool last = false;
    {
        const std::lock_guard lock{mutex_};
        while (Message* m = batch.pop_front().release()) {
            file_locked(m, surplus);
        }
        announce_locked();
        last = closed_ && outstanding_ == 0;
    }
    free_surplus(surplus, last);
}

bool MessagePool::owns(const Message& msg) const noexcept {
    return MessageAccess::home(msg) == this;
}

void MessagePool::file_locked(Message* msg, Message*& surplus) noexcept {
    --outstanding_;
    if (closed_ || idle_ >= max_idle_) {
        MessageAccess::next(*msg) = surplus;
        surplus = msg;
        return;
    }
    MessageAccess::next(*msg) = free_list_;
    free_list_ = msg;
    ++idle_;
}

void MessagePool::announce_locked() noexcept {
    if (idle_ == 0) {
        return;
    }
    if (waiting_ != 0 && idle_ >= wake_level_locked()) {
        returned_.notify_one();
    }
    if (starved_) {
        starved_ = false;
        if (refill_hook_) {
            refill_hook_();
        }
    }
}

void MessagePool::free_surplus(Message* surplus, bool delete_pool) noexcept {
    while (surplus != nullptr) {
        Message* m = surplus;
        surplus = MessageAccess::next(*m);
        delete m;
    }
    if (delete_pool) {
        delete this;
    }
}

void MessagePool::set_refill_hook(std::function<void()> hook) {
    // The old hook dies after unlocking: what it captured may hold one of our messages.
    {
        const std::lock_guard lock{mutex_};
        refill_hook_.swap(hook);
    }
}

std::size_t MessagePool::idle() const {
    const std::lock_guard lock{mutex_};
    return idle_;
}

std::size_t MessagePool::outstanding() const {
    const std::lock_guard lock{mutex_};
    return outstanding_;
}

void MessagePool::close() noexcept {
    Message* idle_list = nullptr;
    bool delete_now = false;
    std::function<void()> hook;  // destroyed after unlocking, like the idle messages
    {
        const std::lock_guard lock{mutex_};
        closed_ = true;
        returned_.notify_all();
        hook.swap(refill_hook_);
        idle_list = free_list_;
        free_list_ = nullptr;
        idle_ = 0;
        delete_now = outstanding_ == 0;
    }
    while (idle_list != nullptr) {
        Message* m = idle_list;
        idle_list = MessageAccess::next(*m);
        delete m;
    }
    if (delete_now) {
        delete this;
    }
}

}  // namespace tofu::detail

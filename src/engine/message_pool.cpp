#include "engine/message_pool.hpp"

#include <string>

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

MessagePtr MessagePool::get(AllocationStrategy strategy) {
    {
        const std::lock_guard lock{mutex_};
        if (free_list_ != nullptr) {
            Message* m = free_list_;
            free_list_ = MessageAccess::next(*m);
            MessageAccess::next(*m) = nullptr;
            --idle_;
            ++outstanding_;
            return MessagePtr{m};
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
    bool delete_pool = false;
    {
        const std::lock_guard lock{mutex_};
        --outstanding_;
        if (closed_ || idle_ >= max_idle_) {
            surplus = msg;
            delete_pool = closed_ && outstanding_ == 0;
        } else {
            MessageAccess::next(*msg) = free_list_;
            free_list_ = msg;
            ++idle_;
            if (starved_) {
                starved_ = false;
                if (refill_hook_) {
                    refill_hook_();
                }
            }
        }
    }
    delete surplus;
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

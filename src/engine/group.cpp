#include "engine/group.hpp"

#include "engine/engine_core.hpp"

namespace tofu::detail {

Group::Group(std::shared_ptr<EngineCore> core, std::uint32_t id) : core_{std::move(core)}, id_{id} {}

Group::~Group() {
    if (core_->request_group_destroy(*this)) {
        std::unique_lock lock{mutex_};
        ready_.wait(lock, [this] { return released_by_engine_; });
    }
    queue_.clear();  // back to the pool
}

void Group::acknowledge_destroy() {
    const std::lock_guard lock{mutex_};
    released_by_engine_ = true;
    ready_.notify_all();
}

BinaryHeader Group::post(MessagePtr& msg) {
    return core_->post(*this, msg);
}

MessagePtr Group::wait_receive(std::chrono::nanoseconds timeout) {
    std::unique_lock lock{mutex_};
    if (queue_.empty() && timeout > std::chrono::nanoseconds::zero()) {
        ++waiting_;
        const auto has_message = [this] { return !queue_.empty(); };
        if (timeout == wait_forever) {
            ready_.wait(lock, has_message);
        } else {
            // Waiting against steady_clock: immune to wall-clock changes. Saturate far deadlines.
            const auto now = std::chrono::steady_clock::now();
            const auto room = std::chrono::steady_clock::time_point::max() - now;
            const auto deadline =
                timeout >= room
                    ? std::chrono::steady_clock::time_point::max()
                    : now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
            ready_.wait_until(lock, deadline, has_message);
        }
        --waiting_;
    }
    return queue_.pop_front();
}

void Group::update_receiver(MessagePtr msg) {
    if (!msg) {
        msg = core_->engine_message(OpCode::signal, AmpeStatus::receiver_update, unassigned_channel);
    }
    msg->bhdr.status = AmpeStatus::receiver_update;
    deliver(std::move(msg));
}

void Group::deliver(MessagePtr msg) {
    const std::lock_guard lock{mutex_};
    queue_.push_back(std::move(msg));
    if (waiting_ != 0) {
        ready_.notify_one();
    }
}

void Group::deliver(MessageQueue& batch) {
    const std::lock_guard lock{mutex_};
    queue_.splice_back(batch);
    if (waiting_ != 0) {
        ready_.notify_all();
    }
}

}  // namespace tofu::detail

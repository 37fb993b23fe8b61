#include "shared/queue_watch.hpp"

#include <tofu/status.hpp>

#include "shared/receive_queue.hpp"

namespace tofu::detail {

QueueWatch::QueueWatch(ReceiveQueue& queue) : queue_{&queue} {}

NativeHandle QueueWatch::native_handle() const noexcept {
    return static_cast<NativeHandle>(notifier_.fd());
}

MessagePtr QueueWatch::try_receive(std::error_code& ec) noexcept {
    const std::lock_guard lock{group_mutex_};
    if (queue_ == nullptr) {
        ec = make_error_code(AmpeStatus::invalid_group);
        return {};
    }
    ec.clear();
    return queue_->try_take();
}

void QueueWatch::orphan() noexcept {
    const std::lock_guard lock{group_mutex_};
    queue_ = nullptr;
    notifier_.notify();  // nothing lowers it any more
}

void QueueWatch::raise() noexcept {
    if (!raised_) {
        raised_ = true;
        notifier_.notify();
    }
}

void QueueWatch::lower() noexcept {
    if (raised_) {
        raised_ = false;
        notifier_.drain();
    }
}

}  // namespace tofu::detail

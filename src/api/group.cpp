#include "api/group.hpp"

#include <utility>

#include "api/engine_core.hpp"

namespace tofu::detail {

Group::Group(std::shared_ptr<EngineCore> core, std::uint32_t id) : core_{std::move(core)}, queue_{id} {}

Group::~Group() {
    queue_.orphan_watches();  // a watcher's pending wait ends now, with invalid_group
    if (core_->request_group_destroy(queue_)) {
        queue_.wait_released();  // the engine dropped this group's timers too
    } else {
        core_->drop_timers(queue_);  // the engine has stopped: no timer may outlive the queue
    }
}

BinaryHeader Group::post(MessagePtr& msg) {
    return core_->post(queue_, msg);
}

BinaryHeader Group::post(MessagePtr& msg, std::error_code& ec) noexcept {
    PostRefusal why = PostRefusal::none;
    const BinaryHeader posted = core_->try_post(queue_, msg, why);
    ec = why == PostRefusal::none ? std::error_code{} : make_error_code(status_of(why));
    return posted;
}

MessagePtr Group::wait_receive(std::chrono::nanoseconds timeout) {
    return queue_.wait(timeout, core_->options().receive_spin);
}

MessagePtr Group::try_receive() {
    return queue_.try_take();
}

NativeHandle Group::native_handle() {
    if (!handle_watch_) {
        handle_watch_ = queue_.new_watch();
    }
    return handle_watch_->native_handle();
}

std::shared_ptr<ReceiveWatch> Group::watch() {
    return queue_.new_watch();
}

void Group::update_receiver(MessagePtr msg) {
    if (!msg) {
        msg = core_->engine_message(OpCode::signal, AmpeStatus::receiver_update, unassigned_channel);
    } else {
        msg->bhdr.proto.origin = Origin::application;  // the application's, whatever it was before
    }
    msg->bhdr.status = AmpeStatus::receiver_update;
    queue_.deliver(std::move(msg));
}

TimerId Group::update_receiver(MessagePtr msg, std::chrono::nanoseconds delay) {
    if (!msg) {
        msg = core_->engine_message(OpCode::signal, AmpeStatus::receiver_update, unassigned_channel);
    }
    msg->bhdr.proto.origin = Origin::application;
    msg->bhdr.status = AmpeStatus::receiver_update;
    if (delay > std::chrono::nanoseconds::zero()) {
        if (const TimerId id = core_->set_timer(queue_, msg, delay); id != 0) {
            return id;
        }
    }
    queue_.deliver(std::move(msg));  // now: no delay, or no engine left to wait for it
    return 0;
}

bool Group::cancel_timer(TimerId id) noexcept {
    return core_->cancel_timer(queue_, id);
}

}  // namespace tofu::detail

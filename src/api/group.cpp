#include "api/group.hpp"

#include <utility>

#include "api/engine_core.hpp"

namespace tofu::detail {

Group::Group(std::shared_ptr<EngineCore> core, std::uint32_t id) : core_{std::move(core)}, queue_{id} {}

Group::~Group() {
    if (core_->request_group_destroy(queue_)) {
        queue_.wait_released();
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

void Group::update_receiver(MessagePtr msg) {
    if (!msg) {
        msg = core_->engine_message(OpCode::signal, AmpeStatus::receiver_update, unassigned_channel);
    }
    msg->bhdr.status = AmpeStatus::receiver_update;
    queue_.deliver(std::move(msg));
}

}  // namespace tofu::detail

#include "api/engine_core.hpp"

#include <chrono>
#include <string>
#include <string_view>

#include "api/group.hpp"
#include "api/post_refusal.hpp"
#include "engine/loop.hpp"
#include "message/message_access.hpp"
#include "message/reserved_headers.hpp"
#include "net/tls.hpp"
#include "shared/receive_queue.hpp"

namespace tofu::detail {
namespace {

/// Message ids are unique across the process, so ids from several engines never collide.
std::atomic<std::uint64_t> next_message_id{1};

/// Throws `not_allowed` naming the option unless `spin` is 0 to 10 ms.
void check_spin(std::chrono::microseconds spin, std::string_view name) {
    if (spin.count() < 0 || spin > std::chrono::milliseconds{10}) {
        throw Error{AmpeStatus::not_allowed, std::string{name} + " must be 0 to 10 ms"};
    }
}

/// `options`, when every limit in it is in range (the pool checks its own).
const Options& checked(const Options& options) {
    if (options.max_channels == 0 || options.max_channels > max_channel) {
        throw Error{AmpeStatus::not_allowed, "max_channels (" + std::to_string(options.max_channels) +
                                                 ") must be 1 to " + std::to_string(max_channel)};
    }
    if (options.handshake_timeout.count() < 0 || options.connect_timeout.count() < 0 ||
        options.dead_peer_timeout.count() < 0 || options.stall_timeout.count() < 0) {
        throw Error{AmpeStatus::not_allowed,
                    "handshake_timeout, connect_timeout, dead_peer_timeout and stall_timeout must not "
                    "be negative"};
    }
    check_spin(options.idle_spin, "idle_spin");
    check_spin(options.receive_spin, "receive_spin");
    if (options.max_unconfirmed_frames < 64 || options.max_unconfirmed_frames > (1U << 24U)) {
        throw Error{AmpeStatus::not_allowed, "max_unconfirmed_frames must be 64 to 2^24"};
    }
    if (options.uds_file_mode > 0777) {
        throw Error{AmpeStatus::not_allowed, "uds_file_mode holds bits beyond 0777"};
    }
    return options;
}

}  // namespace

EngineCore::EngineCore(const Options& options) : state_{checked(options)} {}

EngineCore::~EngineCore() {
    stop();
}

void EngineCore::start() {
    loop_ = std::make_unique<Loop>(state_);
    thread_ = std::thread{[this] { loop_->run(); }};
}

void EngineCore::stop() noexcept {
    state_.request_stop();
    if (thread_.joinable()) {
        thread_.join();
    }
}

ChannelGroupPtr EngineCore::create_group() {
    if (!state_.accepting_posts()) {
        throw Error{AmpeStatus::shutdown_started, "create a channel group"};
    }
    std::uint32_t id = next_group_id_.fetch_add(1);
    while (id == 0 || id == ChannelOwners::engine_owner) {
        id = next_group_id_.fetch_add(1);
    }
    auto group = std::make_unique<Group>(shared_from_this(), id);
    group->queue().destroy_command =
        engine_message(OpCode::bye_signal, AmpeStatus::success, EngineState::command_channel);
    MessageAccess::group_tag(*group->queue().destroy_command) = &group->queue();
    return group;
}

bool EngineCore::request_group_destroy(ReceiveQueue& group) {
    return state_.push_command(group.destroy_command);
}

TimerId EngineCore::set_timer(ReceiveQueue& group, MessagePtr& msg, std::chrono::nanoseconds delay) {
    using Clock = AppTimers::Clock;
    const Clock::time_point now = Clock::now();
    // Saturating: a delay past the clock's range (`wait_forever`) is a timer that never fires.
    const Clock::time_point when = delay >= Clock::time_point::max() - now
                                       ? Clock::time_point::max()
                                       : now + std::chrono::duration_cast<Clock::duration>(delay);
    MessageAccess::group_tag(*msg) = &group;
    const AppTimers::Set set = state_.timers().set(msg, when);
    if (set.earliest) {
        state_.timer_set_earliest();
    }
    return set.id;
}

bool EngineCore::cancel_timer(const ReceiveQueue& group, TimerId id) noexcept {
    const MessagePtr dropped = state_.timers().cancel(id, &group);  // released here, unlocked
    return dropped != nullptr;
}

void EngineCore::drop_timers(const ReceiveQueue& group) noexcept {
    MessageQueue dropped;  // released as it goes, after the table's lock
    state_.timers().drop_group(&group, dropped);
}

BinaryHeader EngineCore::post(ReceiveQueue& group, MessagePtr& msg) {
    PostRefusal why = PostRefusal::none;
    const BinaryHeader posted = try_post(group, msg, why);
    if (why != PostRefusal::none) {
        throw Error{status_of(why), refusal_text(why, posted, state_.owners().limit())};
    }
    return posted;
}

BinaryHeader EngineCore::try_post(ReceiveQueue& group, MessagePtr& msg, PostRefusal& why) noexcept {
    if (!msg) {
        why = PostRefusal::null_message;
        return {};
    }
    BinaryHeader& h = msg->bhdr;
    // Every refusal leaves through here: the status on the message, the message with the caller.
    const auto refuse = [&h, &why](PostRefusal refusal) {
        why = refusal;
        h.status = status_of(refusal);
        return h;
    };
    const OpCode op = h.proto.op_code;
    if (!is_defined(op) || op == OpCode::welcome_response) {
        return refuse(PostRefusal::op_code);
    }
    if (h.proto.role() == MessageRole::response && h.message_id == 0) {
        return refuse(PostRefusal::response_without_id);
    }
    if (h.proto.more && h.proto.type() != MessageType::regular) {
        return refuse(PostRefusal::more_on_command);
    }
    if (msg->thdrs.size() > max_part_size) {
        return refuse(PostRefusal::headers_too_long);
    }
    if (msg->body.size() > max_part_size) {
        return refuse(PostRefusal::body_too_long);
    }
    if (!state_.accepting_posts()) {
        return refuse(PostRefusal::shutting_down);
    }

    const bool opens = op == OpCode::hello_request || op == OpCode::welcome_request;
    if (opens) {
        const std::string_view name = op == OpCode::hello_request ? header::connect_to : header::listen_on;
        if (!msg->thdrs.find(name)) {
            return refuse(PostRefusal::no_address);
        }
        if (std::chrono::milliseconds ignored{};
            op == OpCode::hello_request && !read_connect_timeout(msg->thdrs, ignored)) {
            return refuse(PostRefusal::bad_connect_timeout);
        }
        if (tls_header_error(msg->thdrs) != nullptr) {
            return refuse(PostRefusal::bad_tls_value);
        }
    } else {
        const std::uint16_t ch = h.channel_number;
        if (ch == unassigned_channel || ch > max_channel) {
            return refuse(PostRefusal::not_a_channel);
        }
        const ChannelOwners::Slot flag = op == OpCode::bye_request    ? ChannelOwners::bye_request_posted
                                         : op == OpCode::bye_response ? ChannelOwners::bye_response_posted
                                                                      : 0;
        ChannelOwners::Slot slot = state_.owners().load(ch);
        do {
            if (ChannelOwners::owner_of(slot) != group.id()) {
                return refuse(PostRefusal::not_in_group);
            }
            if (op != OpCode::bye_signal) {
                if ((slot & ChannelOwners::listener) != 0) {
                    return refuse(PostRefusal::listener);
                }
                if ((slot & ChannelOwners::bye_response_posted) != 0) {
                    return refuse(PostRefusal::bye_response_posted);
                }
                if ((slot & ChannelOwners::bye_request_posted) != 0 && op != OpCode::bye_response) {
                    return refuse(PostRefusal::bye_request_posted);
                }
            }
        } while (!state_.owners().begin_post(ch, slot, flag));  // counted in until the push below
    }

    if (opens) {
        const std::uint16_t ch =
            state_.owners().claim(group.id(), op == OpCode::welcome_request ? ChannelOwners::listener : 0);
        if (ch == unassigned_channel) {
            return refuse(PostRefusal::channel_limit);
        }
        h.channel_number = ch;
    }
    if (h.message_id == 0) {
        h.message_id = next_message_id.fetch_add(1, std::memory_order_relaxed);
    }
    h.proto.origin = Origin::application;
    h.proto.oob = op == OpCode::bye_signal;  // ByeSignal jumps the queue
    h.status = AmpeStatus::success;
    MessageAccess::group_tag(*msg) = &group;

    const BinaryHeader posted = h;
    state_.push(std::move(msg));
    if (!opens) {
        state_.owners().end_post(posted.channel_number);
    }
    state_.wake();
    return posted;
}

}  // namespace tofu::detail

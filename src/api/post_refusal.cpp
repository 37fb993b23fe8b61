#include "api/post_refusal.hpp"

#include <string_view>

#include "message/reserved_headers.hpp"

namespace tofu::detail {
namespace {

std::string channel_text(std::uint16_t ch) {
    return "channel " + std::to_string(ch);
}

}  // namespace

AmpeStatus status_of(PostRefusal why) noexcept {
    switch (why) {
        case PostRefusal::none: return AmpeStatus::success;
        case PostRefusal::null_message: return AmpeStatus::null_message;
        case PostRefusal::op_code: return AmpeStatus::invalid_op_code;
        case PostRefusal::response_without_id: return AmpeStatus::invalid_message_id;
        case PostRefusal::more_on_command: return AmpeStatus::invalid_more_usage;
        case PostRefusal::headers_too_long: return AmpeStatus::invalid_headers_len;
        case PostRefusal::body_too_long: return AmpeStatus::invalid_body_len;
        case PostRefusal::shutting_down: return AmpeStatus::shutdown_started;
        case PostRefusal::no_address: return AmpeStatus::invalid_address;
        case PostRefusal::not_a_channel:
        case PostRefusal::not_in_group: return AmpeStatus::invalid_channel_number;
        case PostRefusal::bad_connect_timeout:
        case PostRefusal::bad_tls_value:
        case PostRefusal::listener:
        case PostRefusal::bye_response_posted:
        case PostRefusal::bye_request_posted: return AmpeStatus::not_allowed;
        case PostRefusal::channel_limit: return AmpeStatus::allocation_failed;
    }
    return AmpeStatus::unknown_error;
}

std::string refusal_text(PostRefusal why, const BinaryHeader& h, std::uint32_t channel_limit) {
    if (why == PostRefusal::null_message) {
        return "post";
    }
    const OpCode op = h.proto.op_code;
    const std::string ch = channel_text(h.channel_number);
    std::string what;
    switch (why) {
        case PostRefusal::none:
        case PostRefusal::null_message: break;
        case PostRefusal::op_code: what = "this op code cannot be posted"; break;
        case PostRefusal::response_without_id: what = "a response needs the message id of its request"; break;
        case PostRefusal::more_on_command: what = "'more' is for Request, Response and Signal only"; break;
        case PostRefusal::headers_too_long: what = "text headers over 65535 bytes"; break;
        case PostRefusal::body_too_long: what = "body over 65535 bytes"; break;
        case PostRefusal::shutting_down: what = "the engine is shutting down"; break;
        case PostRefusal::no_address:
            what = "no " + std::string{op == OpCode::hello_request ? header::connect_to : header::listen_on} +
                   " header";
            break;
        case PostRefusal::bad_connect_timeout:
            what = std::string{header::connect_timeout} + " must be whole milliseconds, 0 to " +
                   std::to_string(max_connect_timeout_ms);
            break;
        case PostRefusal::bad_tls_value:
            what = std::string{header::tls_verify} + " must be peer or none, " +
                   std::string{header::tls_min_version} + " 1.2 or 1.3";
            break;
        case PostRefusal::not_a_channel: what = ch + " is not a channel"; break;
        case PostRefusal::not_in_group: what = ch + " is not open in this group"; break;
        case PostRefusal::listener: what = ch + " is a listener: only ByeSignal closes it"; break;
        case PostRefusal::bye_response_posted: what = ch + " is closing: ByeResponse was posted"; break;
        case PostRefusal::bye_request_posted: what = ch + " is closing: ByeRequest was posted"; break;
        case PostRefusal::channel_limit:
            what = "the engine's limit of " + std::to_string(channel_limit) + " open channels is reached";
            break;
    }
    return "post " + std::string{op_code_name(op)} + ": " + what;
}

}  // namespace tofu::detail

// Why `post` refuses a message, as a value: the checks name a refusal, the non-throwing post turns
// it into its status without making a string, and the throwing post into an `Error` with the words
// that say what was wrong.
#pragma once

#include <cstdint>
#include <string>

#include <tofu/message.hpp>
#include <tofu/status.hpp>

namespace tofu::detail {

enum class PostRefusal : std::uint8_t {
    none,
    null_message,
    op_code,              ///< undefined, or one only the engine sends
    response_without_id,  ///< a response with message id 0
    more_on_command,      ///< `more` on anything but Request, Response, Signal
    headers_too_long,
    body_too_long,
    shutting_down,
    no_address,           ///< HelloRequest / WelcomeRequest without its address header
    bad_connect_timeout,  ///< a `~connect_timeout` that is not whole milliseconds in range
    bad_tls_value,        ///< a `~tls_verify` or `~tls_min_version` that is none of its values
    not_a_channel,        ///< channel 0 or past the last number
    not_in_group,         ///< not open in the posting group
    listener,             ///< anything but ByeSignal to a listener
    bye_response_posted,  ///< after this side's ByeResponse
    bye_request_posted,   ///< after this side's ByeRequest
    channel_limit,        ///< `Options::max_channels` reached
};

/// The status a refusal sets on the message and reports.
[[nodiscard]] AmpeStatus status_of(PostRefusal why) noexcept;

/// What `Error::what()` says before the status name: the op code and what was wrong with the
/// message whose header is `h` (`channel_limit`: the engine's limit of channels).
[[nodiscard]] std::string refusal_text(PostRefusal why, const BinaryHeader& h, std::uint32_t channel_limit);

}  // namespace tofu::detail

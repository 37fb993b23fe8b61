// Reading the engine's reports (channel_closed) and posting on channels that may be
// closing: the bits `tofu listen`, `echo` and `send` share.
#pragma once

#include <string>

#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/status.hpp>

namespace tofu::cli {

/// True for the engine Signal that reports a closed channel.
[[nodiscard]] bool is_channel_closed(const Message& msg) noexcept;

/// Why a channel closed, as its `channel_closed` report says.
struct CloseReport {
    std::string reason;  ///< the `~reason` status name, e.g. "connect_failed"
    std::string detail;  ///< the `~detail` text (the OS's words), or empty
};

/// Reads a `channel_closed` report; `fallback` names the reason when the report has no `~reason`.
[[nodiscard]] CloseReport close_report(const Message& msg, AmpeStatus fallback);

/// Posts `msg`. When its channel is already closed or closing (`invalid_channel_number`,
/// `not_allowed`) the message is dropped and false returned: the channel's close report is on its
/// way. Other failures throw.
bool post_unless_closed(ChannelGroup& group, MessagePtr& msg);

}  // namespace tofu::cli

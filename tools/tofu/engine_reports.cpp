#include "engine_reports.hpp"

#include <string>

#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/status.hpp>

namespace tofu::cli {
namespace {

bool is_engine_signal(const Message& msg, AmpeStatus status) noexcept {
    return msg.is_from_engine() && msg.bhdr.proto.op_code == OpCode::signal && msg.bhdr.status == status;
}

}  // namespace

bool is_channel_closed(const Message& msg) noexcept {
    return is_engine_signal(msg, AmpeStatus::channel_closed);
}

CloseReport close_report(const Message& msg, AmpeStatus fallback) {
    return CloseReport{std::string{msg.thdrs.find(header::reason).value_or(status_name(fallback))},
                       std::string{msg.thdrs.find(header::detail).value_or("")}};
}

bool post_unless_closed(ChannelGroup& group, MessagePtr& msg) {
    try {
        group.post(msg);
        return true;
    } catch (const Error& e) {
        if (e.status() != AmpeStatus::invalid_channel_number && e.status() != AmpeStatus::not_allowed) {
            throw;
        }
        msg.reset();
        return false;
    }
}

}  // namespace tofu::cli

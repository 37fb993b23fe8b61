// Sorting received messages (include/tofu/received.hpp): the names and the close reason.
#include <optional>
#include <string_view>

#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/received.hpp>
#include <tofu/status.hpp>

namespace tofu {

std::string_view received_name(Received kind) noexcept {
    switch (kind) {
        case Received::from_peer: return "from_peer";
        case Received::report: return "report";
        case Received::returned: return "returned";
        case Received::wake_up: return "wake_up";
    }
    return "unknown";
}

std::optional<AmpeStatus> close_reason(const Message& msg) noexcept {
    if (classify(msg) != Received::report || msg.bhdr.status != AmpeStatus::channel_closed) {
        return std::nullopt;
    }
    const std::optional<std::string_view> reason = msg.thdrs.find(header::reason);
    return reason ? status_from_name(*reason) : std::nullopt;
}

}  // namespace tofu

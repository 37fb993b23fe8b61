#include <array>
#include <string>

#include <tofu/status.hpp>

namespace tofu {
namespace {

constexpr std::array<std::string_view, 32> status_names{
    "success",
    "not_implemented_yet",
    "wrong_address",
    "not_allowed",
    "null_message",
    "invalid_message",
    "invalid_op_code",
    "invalid_headers_len",
    "invalid_body_len",
    "invalid_more_usage",
    "invalid_channel_number",
    "invalid_group",
    "invalid_message_id",
    "invalid_address",
    "uds_path_not_found",
    "notification_disabled",
    "notification_failed",
    "peer_disconnected",
    "communication_failed",
    "pool_empty",
    "allocation_failed",
    "receiver_update",
    "channel_closed",
    "shutdown_started",
    "connect_failed",
    "listen_failed",
    "accept_failed",
    "send_failed",
    "recv_failed",
    "setsockopt_failed",
    "processing_failed",
    "unknown_error",
};

class AmpeCategory final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "tofu"; }
    [[nodiscard]] std::string message(int value) const override {
        if (value < 0 || value > 255) {
            return std::string{status_names.back()};
        }
        return std::string{status_name(status_from_raw(static_cast<std::uint8_t>(value)))};
    }
};

std::string what_of(AmpeStatus status, const std::string& context) {
    if (context.empty()) {
        return std::string{status_name(status)};
    }
    return context + ": " + std::string{status_name(status)};
}

}  // namespace

std::string_view status_name(AmpeStatus status) noexcept {
    return status_names[to_raw(status_from_raw(to_raw(status)))];
}

std::optional<AmpeStatus> status_from_name(std::string_view name) noexcept {
    for (std::size_t i = 0; i < status_names.size(); ++i) {
        if (status_names[i] == name) {
            return static_cast<AmpeStatus>(i);
        }
    }
    return std::nullopt;
}

const std::error_category& ampe_category() noexcept {
    static const AmpeCategory category;
    return category;
}

std::error_code make_error_code(AmpeStatus status) noexcept {
    return {static_cast<int>(status), ampe_category()};
}

// std::system_error formats what() differently per standard library; keep our own text.
Error::Error(AmpeStatus status, const std::string& context)
    : std::system_error{make_error_code(status), context}, status_{status}, what_{what_of(status, context)} {}

}  // namespace tofu

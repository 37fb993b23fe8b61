/// @file
/// Statuses: the fixed `AmpeStatus` numbering, its `std::error_category`, and `tofu::Error`.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace tofu {

/// Outcome of an operation. The values are fixed: they travel in the one-byte status field of every
/// message, so they never change meaning between versions.
enum class AmpeStatus : std::uint8_t {
    success = 0,
    not_implemented_yet = 1,
    wrong_address = 2,
    not_allowed = 3,
    null_message = 4,
    invalid_message = 5,
    invalid_op_code = 6,
    invalid_headers_len = 7,
    invalid_body_len = 8,
    invalid_more_usage = 9,
    invalid_channel_number = 10,
    invalid_group = 11,
    invalid_message_id = 12,
    invalid_address = 13,
    uds_path_not_found = 14,
    notification_disabled = 15,
    notification_failed = 16,
    peer_disconnected = 17,
    communication_failed = 18,
    pool_empty = 19,
    allocation_failed = 20,
    receiver_update = 21,
    channel_closed = 22,
    shutdown_started = 23,
    connect_failed = 24,
    listen_failed = 25,
    accept_failed = 26,
    send_failed = 27,
    recv_failed = 28,
    setsockopt_failed = 29,
    processing_failed = 30,
    unknown_error = 31,
};

/// Reads a raw status byte. Every value from 31 up reads as `AmpeStatus::unknown_error`.
[[nodiscard]] constexpr AmpeStatus status_from_raw(std::uint8_t raw) noexcept {
    return raw >= static_cast<std::uint8_t>(AmpeStatus::unknown_error) ? AmpeStatus::unknown_error
                                                                       : static_cast<AmpeStatus>(raw);
}

/// The raw byte written to the status field.
[[nodiscard]] constexpr std::uint8_t to_raw(AmpeStatus status) noexcept {
    return static_cast<std::uint8_t>(status);
}

/// The status's name as spelled in the enum, e.g. `"channel_closed"`. Never null.
[[nodiscard]] std::string_view status_name(AmpeStatus status) noexcept;

/// The status called `name` (as `status_name` spells it), if there is one; reads the `~reason`
/// header of a `channel_closed` report back into a status.
[[nodiscard]] std::optional<AmpeStatus> status_from_name(std::string_view name) noexcept;

/// The error category of `AmpeStatus` values; its name is `"tofu"`.
[[nodiscard]] const std::error_category& ampe_category() noexcept;

/// Makes `AmpeStatus` usable as a `std::error_code`.
[[nodiscard]] std::error_code make_error_code(AmpeStatus status) noexcept;

/// The exception tofu throws: a `std::system_error` whose code is an `AmpeStatus`.
/// `what()` reads `"<context>: <status name>"`.
class Error : public std::system_error {
public:
    /// @param status what went wrong.
    /// @param context what was being done, shown before the status name in `what()`.
    explicit Error(AmpeStatus status, const std::string& context = {});

    /// The status this error carries.
    [[nodiscard]] AmpeStatus status() const noexcept { return status_; }

    /// `"<context>: <status name>"`, or the status name alone when there is no context.
    [[nodiscard]] const char* what() const noexcept override { return what_.c_str(); }

private:
    AmpeStatus status_;
    std::string what_;
};

}  // namespace tofu

template <>
struct std::is_error_code_enum<tofu::AmpeStatus> : std::true_type {};

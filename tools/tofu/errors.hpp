// Exit codes and the one-line errors of the tofu tool.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <tofu/status.hpp>

namespace tofu::cli {

/// The process exit codes every subcommand uses (documented in --help and docs/cli.md).
inline constexpr int exit_success = 0;
inline constexpr int exit_failure = 1;  ///< tofu reported a failure (connect_failed, listen_failed, ...)
inline constexpr int exit_usage = 2;    ///< the command line is wrong (invalid_address, bad option, ...)

/// The --help footer that lists the exit codes.
inline constexpr std::string_view exit_codes_help =
    "Exit codes: 0 success, 1 failure reported by tofu (e.g. connect_failed), "
    "2 usage error (e.g. invalid_address).";

/// Why a command stops early: its exit code and the line printed after "tofu: ".
class CommandError : public std::runtime_error {
public:
    CommandError(int exit_code, const std::string& line) : std::runtime_error{line}, exit_code_{exit_code} {}

    [[nodiscard]] int exit_code() const noexcept { return exit_code_; }

private:
    int exit_code_;
};

/// "<status>: <subject> (<detail>)", without the parentheses when there is no detail.
[[nodiscard]] std::string describe_failure(std::string_view status, std::string_view subject,
                                           std::string_view detail = {});
[[nodiscard]] std::string describe_failure(AmpeStatus status, std::string_view subject,
                                           std::string_view detail = {});

/// The exit code for a failure with status `status` (a name as `status_name` spells it):
/// `invalid_address` is the command line's fault (exit code 2, even when only name resolution
/// finds it out), any other status is a failure (1).
[[nodiscard]] int exit_code_for(std::string_view status) noexcept;

/// A failure tofu reported (exit code as `exit_code_for`).
[[nodiscard]] CommandError tofu_failure(std::string_view status, std::string_view subject,
                                        std::string_view detail = {});

/// A wrong command line (exit code 2).
[[nodiscard]] CommandError usage_error(AmpeStatus status, std::string_view subject, std::string_view detail);

/// Runs a subcommand; a `CommandError` or `tofu::Error` escaping it becomes one line on stderr
/// ("tofu: ...") and the matching exit code.
[[nodiscard]] int run_command(const std::function<int()>& command);

}  // namespace tofu::cli

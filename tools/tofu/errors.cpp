#include "errors.hpp"

#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <string_view>

#include <tofu/status.hpp>

namespace tofu::cli {

std::string describe_failure(std::string_view status, std::string_view subject, std::string_view detail) {
    std::string line{status};
    line.append(": ").append(subject);
    if (!detail.empty()) {
        line.append(" (").append(detail).append(")");
    }
    return line;
}

std::string describe_failure(AmpeStatus status, std::string_view subject, std::string_view detail) {
    return describe_failure(status_name(status), subject, detail);
}

int exit_code_for(std::string_view status) noexcept {
    return status == status_name(AmpeStatus::invalid_address) ? exit_usage : exit_failure;
}

CommandError tofu_failure(std::string_view status, std::string_view subject, std::string_view detail) {
    return CommandError{exit_code_for(status), describe_failure(status, subject, detail)};
}

CommandError usage_error(AmpeStatus status, std::string_view subject, std::string_view detail) {
    return CommandError{exit_usage, describe_failure(status, subject, detail)};
}

int run_command(const std::function<int()>& command) {
    try {
        return command();
    } catch (const CommandError& e) {
        std::fprintf(stderr, "tofu: %s\n", e.what());
        return e.exit_code();
    } catch (const Error& e) {  // what() reads "<context>: <status>"
        std::fprintf(stderr, "tofu: %s\n", e.what());
        return exit_code_for(status_name(e.status()));
    }
}

}  // namespace tofu::cli

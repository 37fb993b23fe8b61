// What a child process does the same on every OS: lines out of the output streams, the wait for
// exit, the record for failure messages. The OS part is child_process_posix.cpp or
// child_process_windows.cpp: starting, pumping the pipes, signals, reaping.
#include "cli/child_process.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tofu::cli_test {

void ChildProcess::feed_stdin_and_close(std::string_view data) {
    stdin_pending_ += data;
    stdin_close_requested_ = true;
    write_stdin();
}

std::optional<std::string> ChildProcess::read_line(Stream stream, std::chrono::nanoseconds timeout) {
    Output& output = stream == Stream::out ? out_ : err_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const std::size_t newline = output.unread.find('\n');
        if (newline != std::string::npos) {
            std::string line = output.unread.substr(0, newline);
            output.unread.erase(0, newline + 1);
            if (line.ends_with('\r')) {
                line.pop_back();  // Windows ends lines with CR LF
            }
            return line;
        }
        if (!output.open) {
            if (output.unread.empty()) {
                return std::nullopt;
            }
            return std::exchange(output.unread, {});
        }
        if (!pump(deadline)) {
            throw ChildTimeout{"no line on " + std::string{stream == Stream::out ? "stdout" : "stderr"} +
                               " in time; " + what_happened()};
        }
    }
}

int ChildProcess::wait_exit(std::chrono::nanoseconds timeout) {
    if (!reaped_) {
        stdin_close_requested_ = true;
        write_stdin();
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (out_.open || err_.open) {
            if (!pump(deadline)) {
                throw ChildTimeout{"the child did not exit in time; " + what_happened()};
            }
        }
        // Both pipes reached end of file: the child is exiting, so this wait is short.
        exit_code_ = reap();
        reaped_ = true;
    }
    return exit_code_;
}

const std::string& ChildProcess::unread(Stream stream) const noexcept {
    return stream == Stream::out ? out_.unread : err_.unread;
}

const std::string& ChildProcess::everything(Stream stream) const noexcept {
    return stream == Stream::out ? out_.all : err_.all;
}

std::string ChildProcess::what_happened() const {
    return "pid " + std::to_string(pid_) + " stdout so far: [" + out_.all.substr(0, 2000) +
           "] stderr so far: [" + err_.all.substr(0, 2000) + "]";
}

}  // namespace tofu::cli_test

// A child process whose standard output the parent reads line by line, with a deadline.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace tofu::bench {

class ChildProcess {
public:
    /// Starts `argv[0]` with `argv`; its stdout is a pipe to us, its stderr is ours. Throws on failure.
    explicit ChildProcess(const std::vector<std::string>& argv);
    /// Kills the child if it still runs, and reaps it.
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ChildProcess(ChildProcess&&) = delete;
    ChildProcess& operator=(ChildProcess&&) = delete;

    /// The next line the child printed (without '\n'); nothing at end of output or after `timeout`.
    [[nodiscard]] std::optional<std::string> read_line(std::chrono::milliseconds timeout);

    /// Waits for the child to exit; its exit code (128 + signal number when killed by a signal).
    int wait();

private:
    pid_t pid_ = -1;
    int out_fd_ = -1;
    std::string buffered_;
};

}  // namespace tofu::bench

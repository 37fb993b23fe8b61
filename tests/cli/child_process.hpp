// A child process with pipes on stdin, stdout and stderr, for tests that run a program. Output is
// read against a deadline (never sleeps), stdin is fed while waiting, and the destructor kills
// (SIGKILL) and reaps a child still running, so a failing test leaves no process behind. On POSIX
// a child's pipes are served only while the test waits on that child: one that prints more than a
// pipe holds (64 KiB) blocks meanwhile, so read it while waiting for its peers. On Windows,
// threads read and write the pipes (they cannot be polled), so a child never blocks on them.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tofu::cli_test {

/// How long a test waits for one expected event. Generous on purpose: sanitizer builds on a loaded
/// machine are slow, and a passing test never waits this long.
inline constexpr std::chrono::seconds io_timeout{30};

/// Thrown when a child does not do what the test waits for in time.
class ChildTimeout : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// One of the child's output streams.
enum class Stream : std::uint8_t { out, err };

class ChildProcess {
public:
    /// Starts `argv[0]` (a path) with arguments `argv[1...]`, SIGINT / SIGTERM / SIGPIPE at their
    /// defaults and no signal blocked. Throws `std::system_error` when it cannot.
    explicit ChildProcess(const std::vector<std::string>& argv);
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ChildProcess(ChildProcess&&) = delete;
    ChildProcess& operator=(ChildProcess&&) = delete;
    ~ChildProcess();

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }

    /// Queues `data` for the child's stdin and closes stdin once it is written; the bytes go out
    /// while this side waits for output, so a child that writes as it reads cannot deadlock.
    void feed_stdin_and_close(std::string_view data);

    /// The next line of `stream`, without its newline; nothing when the stream ends first (a last
    /// line without a newline is returned). Throws `ChildTimeout` after `timeout`.
    [[nodiscard]] std::optional<std::string> read_line(Stream stream,
                                                       std::chrono::nanoseconds timeout = io_timeout);

    /// Waits until the child closes stdout and stderr and exits; returns its exit code, or
    /// 128 + N when signal N ended it (on Windows, 137 when `send_signal` ended it). Throws
    /// `ChildTimeout` after `timeout`.
    int wait_exit(std::chrono::nanoseconds timeout = io_timeout);

    /// Sends signal `signal_number` to the child. Windows has signals for no console-less child:
    /// SIGKILL and SIGTERM end it at once (TerminateProcess); any other throws `std::logic_error`.
    void send_signal(int signal_number);

    /// True while the child has not exited (it may be exiting right now).
    [[nodiscard]] bool running();

    /// What the child wrote to `stream` and no `read_line` has consumed yet.
    [[nodiscard]] const std::string& unread(Stream stream) const noexcept;

    /// Everything `stream` carried so far, read or not: for failure messages.
    [[nodiscard]] const std::string& everything(Stream stream) const noexcept;

private:
    struct Output {
        bool open = true;  ///< until the child's end of the stream is read
        std::string unread;
        std::string all;
#if !defined(_WIN32)
        int fd = -1;
#endif
    };

    // The OS part (child_process_posix.cpp, child_process_windows.cpp).
    /// Moves bytes through the pipes once, blocking until something happens or `deadline`.
    /// False when the deadline passed with nothing to do.
    bool pump(std::chrono::steady_clock::time_point deadline);
    /// Hands `stdin_pending_` on and closes stdin once it is all written and close was asked.
    void write_stdin();
    void close_stdin();
    /// Waits for the exited child and returns its exit code (the same rule as `wait_exit`).
    int reap();
#if !defined(_WIN32)
    static void read_from(Output& output);
#endif
    [[nodiscard]] std::string what_happened() const;

    pid_t pid_ = -1;
    bool reaped_ = false;
    int exit_code_ = 0;
    std::string stdin_pending_;
    bool stdin_close_requested_ = false;
    Output out_;
    Output err_;
#if defined(_WIN32)
    struct Native;  ///< the process handle, the pipes and the threads serving them
    std::unique_ptr<Native> native_;
#else
    int stdin_fd_ = -1;
#endif
};

}  // namespace tofu::cli_test

// A child process with pipes on stdin, stdout and stderr, for tests that run a program. Output is
// read with poll() against a deadline (never sleeps), stdin is fed while waiting, and the
// destructor kills (SIGKILL) and reaps a child still running, so a failing test leaves no process
// behind. A child's pipes are served only while the test waits on that child: one that prints more
// than a pipe holds (64 KiB) blocks meanwhile, so read it while waiting for its peers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
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
    /// 128 + N when signal N ended it. Throws `ChildTimeout` after `timeout`.
    int wait_exit(std::chrono::nanoseconds timeout = io_timeout);

    /// Sends signal `signal_number` to the child.
    void send_signal(int signal_number);

    /// True while the child has not exited (it may be exiting right now).
    [[nodiscard]] bool running();

    /// What the child wrote to `stream` and no `read_line` has consumed yet.
    [[nodiscard]] const std::string& unread(Stream stream) const noexcept;

    /// Everything `stream` carried so far, read or not: for failure messages.
    [[nodiscard]] const std::string& everything(Stream stream) const noexcept;

private:
    struct Output {
        int fd = -1;
        std::string unread;
        std::string all;
    };

    /// Moves bytes through the pipes once, blocking until something happens or `deadline`.
    /// False when the deadline passed with nothing to do.
    bool pump(std::chrono::steady_clock::time_point deadline);
    static void read_from(Output& output);
    void write_stdin();
    void close_stdin();
    [[nodiscard]] std::string what_happened() const;

    pid_t pid_ = -1;
    bool reaped_ = false;
    int wait_status_ = 0;
    int stdin_fd_ = -1;
    std::string stdin_pending_;
    bool stdin_close_requested_ = false;
    Output out_;
    Output err_;
};

}  // namespace tofu::cli_test

// Wakes the engine thread from other threads: an eventfd on Linux, a pipe on other POSIX systems,
// a pair of loopback UDP sockets on Windows (WSAPoll waits on sockets only); one file per OS under
// platform/. The reactor registers `fd()` with its poller under the notify trigger.
#pragma once

namespace tofu::detail {

class Notifier {
public:
    /// Throws `Error(notification_failed)` when the OS refuses the descriptor.
    Notifier();
    ~Notifier();
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;
    Notifier(Notifier&&) = delete;
    Notifier& operator=(Notifier&&) = delete;

    /// Makes `fd()` readable. Safe from any thread; never waits for the engine.
    void notify() noexcept;
    /// Consumes pending notifications (engine thread).
    void drain() noexcept;
    [[nodiscard]] int fd() const noexcept { return read_fd_; }

private:
    int read_fd_ = -1;
    int write_fd_ = -1;  // the same descriptor as read_fd_ for an eventfd
};

}  // namespace tofu::detail

// platform/stop_signal_source.hpp on POSIX: handlers for SIGINT and SIGTERM that write one byte to
// a non-blocking pipe (about all a handler may safely do) and the helper's thread reading it.
// Handlers rather than sigwait(): sigwait needs the signals blocked in every thread, which only
// works when set up before any thread starts; a handler works whenever it is installed.
#include "platform/stop_signal_source.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <tofu/status.hpp>

#include "net/socket.hpp"

namespace tofu::detail {
namespace {

constexpr std::array<int, 2> stop_signals{SIGINT, SIGTERM};
constexpr char sigint_byte = 'I';
constexpr char sigterm_byte = 'T';

// All the handler touches: lock-free atomics, so it stays async-signal-safe.
std::atomic<int> pipe_write_fd{-1};
std::atomic<int> handlers_running{0};  ///< handlers between reading the descriptor and done with it
static_assert(std::atomic<int>::is_always_lock_free, "a signal handler may use lock-free atomics only");

void on_stop_signal(int signal_number) {
    const int saved_errno = errno;  // the code this handler interrupted may be about to read it
    handlers_running.fetch_add(1);
    const int fd = pipe_write_fd.load();
    if (fd >= 0) {
        const char byte = signal_number == SIGINT ? sigint_byte : sigterm_byte;
        // A full pipe already holds wake-ups enough: a byte that does not fit is dropped.
        [[maybe_unused]] const auto n = ::write(fd, &byte, 1);
    }
    handlers_running.fetch_sub(1);
    errno = saved_errno;
}

[[noreturn]] void fail_with_os_error(const char* what, int os_error) {
    throw Error{AmpeStatus::notification_failed,
                std::string{"tofu::StopSignals: "} + what + ": " + os_error_text(os_error)};
}

}  // namespace

struct StopSignalSource::Native {
    Native() = default;
    Native(const Native&) = delete;
    Native& operator=(const Native&) = delete;
    Native(Native&&) = delete;
    Native& operator=(Native&&) = delete;
    ~Native() {
        for (const int fd : {read_fd, write_fd}) {
            if (fd >= 0) {
                ::close(fd);
            }
        }
    }

    int read_fd = -1;
    int write_fd = -1;
    std::array<struct sigaction, stop_signals.size()> previous{};
    std::size_t installed = 0;  ///< how many of `stop_signals` have our handler
    std::atomic<bool> closed{false};
};

StopSignalSource::StopSignalSource() : native_{std::make_unique<Native>()} {
    Native& n = *native_;
    std::array<int, 2> fds{};
    if (::pipe(fds.data()) != 0) {
        fail_with_os_error("pipe", errno);
    }
    n.read_fd = fds[0];
    n.write_fd = fds[1];
    for (const int fd : fds) {
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    ::fcntl(n.write_fd, F_SETFL, ::fcntl(n.write_fd, F_GETFL) | O_NONBLOCK);  // a handler never blocks
    pipe_write_fd.store(n.write_fd);

    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // the interrupted thread's system calls go on
    for (const int signal_number : stop_signals) {
        if (::sigaction(signal_number, &action, &n.previous[n.installed]) != 0) {
            const int error = errno;
            close();
            fail_with_os_error("sigaction", error);
        }
        ++n.installed;
    }
}

StopSignalSource::~StopSignalSource() {
    close();
}

std::string_view StopSignalSource::wait() {
    for (;;) {
        // Waits in poll, then reads: a signal the kernel hands to this very thread must find it
        // in a call that lets the handler run. ThreadSanitizer defers a handler until the thread
        // is in such a call, and a read of the pipe is not one: the handler, which alone would
        // end the read, then never ran (a stop signal lost, seen in the tsan preset).
        pollfd readable{.fd = native_->read_fd, .events = POLLIN, .revents = 0};
        if (::poll(&readable, 1, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return {};
        }
        char byte = 0;
        const auto n = ::read(native_->read_fd, &byte, 1);
        if (n == 1) {
            return byte == sigint_byte ? "SIGINT" : "SIGTERM";
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return {};  // the end of the pipe: `close` ran
    }
}

void StopSignalSource::close() noexcept {
    Native& n = *native_;
    if (n.closed.exchange(true)) {
        return;
    }
    for (std::size_t i = 0; i < n.installed; ++i) {
        ::sigaction(stop_signals[i], &n.previous[i], nullptr);
    }
    pipe_write_fd.store(-1);
    // A handler that read the descriptor before the store may still be writing to it: it must be
    // done before the descriptor closes (and its number is reused). Handlers are a few
    // instructions long; none can start anew, ours are gone.
    while (handlers_running.load() != 0) {
        std::this_thread::yield();
    }
    ::close(n.write_fd);  // `wait` reads the end of the pipe
    n.write_fd = -1;
}

}  // namespace tofu::detail

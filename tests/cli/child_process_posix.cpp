// The child process on POSIX: posix_spawn, pipes polled against the deadline, signals.
#include "cli/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX declares it nowhere else

namespace tofu::cli_test {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error{errno, std::generic_category(), what};
}

/// A pipe whose ends are closed on exec: only the dup2'ed copies reach the child.
std::array<int, 2> make_pipe() {
    std::array<int, 2> fds{-1, -1};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
        throw_errno("pipe2");
    }
    return fds;
}

void close_fd(int& fd) noexcept {
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

/// Owns the posix_spawn attribute objects for one spawn.
class SpawnSetup {
public:
    SpawnSetup() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attributes);
    }
    SpawnSetup(const SpawnSetup&) = delete;
    SpawnSetup& operator=(const SpawnSetup&) = delete;
    SpawnSetup(SpawnSetup&&) = delete;
    SpawnSetup& operator=(SpawnSetup&&) = delete;
    ~SpawnSetup() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attributes);
    }

    posix_spawn_file_actions_t actions{};
    posix_spawnattr_t attributes{};
};

/// The exit code of a wait status, or 128 + N when signal N ended the child.
int exit_code_of(int status) {
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv) {
    // This side ignores SIGPIPE so a child that exits early cannot kill the test through its stdin.
    std::signal(SIGPIPE, SIG_IGN);
    std::array<int, 2> in = make_pipe();
    std::array<int, 2> out = make_pipe();
    std::array<int, 2> err = make_pipe();

    SpawnSetup setup;
    posix_spawn_file_actions_adddup2(&setup.actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&setup.actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&setup.actions, err[1], STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&setup.attributes, &none);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    posix_spawnattr_setsigdefault(&setup.attributes, &defaults);
    posix_spawnattr_setflags(&setup.attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const std::string& arg : argv) {
        args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    const int rc =
        posix_spawn(&pid_, argv.at(0).c_str(), &setup.actions, &setup.attributes, args.data(), environ);
    close_fd(in[0]);
    close_fd(out[1]);
    close_fd(err[1]);
    stdin_fd_ = in[1];
    out_.fd = out[0];
    err_.fd = err[0];
    if (rc != 0) {
        close_stdin();
        close_fd(out_.fd);
        close_fd(err_.fd);
        reaped_ = true;
        throw std::system_error{rc, std::generic_category(), "posix_spawn " + argv.at(0)};
    }
    // Writes to stdin must never block this side: the child may not be reading.
    ::fcntl(stdin_fd_, F_SETFL, ::fcntl(stdin_fd_, F_GETFL) | O_NONBLOCK);
}

ChildProcess::~ChildProcess() {
    close_stdin();
    close_fd(out_.fd);
    close_fd(err_.fd);
    if (!reaped_) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
}

int ChildProcess::reap() {
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) {
        throw_errno("waitpid");
    }
    return exit_code_of(status);
}

void ChildProcess::send_signal(int signal_number) {
    if (!reaped_ && ::kill(pid_, signal_number) != 0) {
        throw_errno("kill");
    }
}

bool ChildProcess::running() {
    if (reaped_) {
        return false;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        exit_code_ = exit_code_of(status);
    }
    return !reaped_;
}

bool ChildProcess::pump(Clock::time_point deadline) {
    std::vector<pollfd> fds;
    for (const Output* output : {&out_, &err_}) {
        if (output->fd >= 0) {
            fds.push_back(pollfd{output->fd, POLLIN, 0});
        }
    }
    if (stdin_fd_ >= 0 && !stdin_pending_.empty()) {
        fds.push_back(pollfd{stdin_fd_, POLLOUT, 0});
    }
    if (fds.empty()) {
        return true;
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
        return false;
    }
    const int ready =
        ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left.count(), 60'000)));
    if (ready < 0 && errno != EINTR) {
        throw_errno("poll");
    }
    if (ready <= 0) {
        return Clock::now() < deadline;
    }
    for (const pollfd& p : fds) {
        if (p.revents == 0) {
            continue;
        }
        if (p.fd == stdin_fd_) {
            write_stdin();
        } else {
            read_from(p.fd == out_.fd ? out_ : err_);
        }
    }
    return true;
}

void ChildProcess::read_from(Output& output) {
    std::array<char, 65536> buffer{};
    const ssize_t n = ::read(output.fd, buffer.data(), buffer.size());
    if (n > 0) {
        output.unread.append(buffer.data(), static_cast<std::size_t>(n));
        output.all.append(buffer.data(), static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
        close_fd(output.fd);  // end of file, or an error that will not go away
        output.open = false;
    }
}

void ChildProcess::write_stdin() {
    while (stdin_fd_ >= 0 && !stdin_pending_.empty()) {
        const ssize_t n = ::write(stdin_fd_, stdin_pending_.data(), stdin_pending_.size());
        if (n > 0) {
            stdin_pending_.erase(0, static_cast<std::size_t>(n));
        } else if (errno == EAGAIN || errno == EINTR) {
            return;  // the pipe is full: pump() writes more once it has room
        } else {
            stdin_pending_.clear();  // EPIPE: the child stopped reading
        }
    }
    if (stdin_close_requested_ && stdin_pending_.empty()) {
        close_stdin();
    }
}

void ChildProcess::close_stdin() {
    close_fd(stdin_fd_);
}

}  // namespace tofu::cli_test

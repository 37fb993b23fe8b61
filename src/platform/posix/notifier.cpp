// shared/notifier.hpp on POSIX systems: an eventfd on Linux (one descriptor, a counter that one
// read empties), a non-blocking pipe elsewhere.
#include "shared/notifier.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <string>

#include <tofu/status.hpp>

#include "net/socket.hpp"

#if defined(__linux__)
#include <sys/eventfd.h>
#else
#include <fcntl.h>
#endif

namespace tofu::detail {
namespace {

[[noreturn]] void fail(const char* what, int os_error) {
    throw Error{AmpeStatus::notification_failed, std::string{what} + ": " + os_error_text(os_error)};
}

}  // namespace

#if defined(__linux__)

Notifier::Notifier() {
    read_fd_ = write_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (read_fd_ < 0) {
        fail("eventfd", errno);
    }
}

void Notifier::notify() noexcept {
    // A saturated eventfd already means "wake up": a failure to add one more is fine to ignore.
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(write_fd_, &one, sizeof one);
}

void Notifier::drain() noexcept {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto n = ::read(read_fd_, &count, sizeof count);  // one read empties it
}

#else

Notifier::Notifier() {
    std::array<int, 2> fds{};
    if (::pipe(fds.data()) != 0) {
        fail("pipe", errno);
    }
    for (const int fd : fds) {
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    read_fd_ = fds[0];
    write_fd_ = fds[1];
}

void Notifier::notify() noexcept {
    // A full pipe already means "wake up": a failure to add one more byte is fine to ignore.
    const char one = 1;
    [[maybe_unused]] const auto n = ::write(write_fd_, &one, 1);
}

void Notifier::drain() noexcept {
    std::array<std::uint64_t, 16> sink{};
    while (::read(read_fd_, sink.data(), sizeof sink) > 0) {
    }
}

#endif

Notifier::~Notifier() {
    ::close(read_fd_);
    if (write_fd_ != read_fd_) {
        ::close(write_fd_);
    }
}

}  // namespace tofu::detail

#include "engine/notifier.hpp"

#include <array>
#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/eventfd.h>
#endif

#include <tofu/status.hpp>

namespace tofu::detail {

Notifier::Notifier() {
#if defined(__linux__)
    read_fd_ = write_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (read_fd_ < 0) {
        throw Error{AmpeStatus::notification_failed,
                    std::string{"eventfd: "} + std::system_category().message(errno)};
    }
#else
    std::array<int, 2> fds{};
    if (::pipe(fds.data()) != 0) {
        throw Error{AmpeStatus::notification_failed,
                    std::string{"pipe: "} + std::system_category().message(errno)};
    }
    for (const int fd : fds) {
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    read_fd_ = fds[0];
    write_fd_ = fds[1];
#endif
}

Notifier::~Notifier() {
    ::close(read_fd_);
    if (write_fd_ != read_fd_) {
        ::close(write_fd_);
    }
}

void Notifier::notify() noexcept {
    // A full pipe or a saturated eventfd already means "wake up": EAGAIN is fine to ignore.
#if defined(__linux__)
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(write_fd_, &one, sizeof one);
#else
    const char one = 1;
    [[maybe_unused]] const auto n = ::write(write_fd_, &one, 1);
#endif
}

void Notifier::drain() noexcept {
    std::array<std::uint64_t, 16> sink{};
    while (::read(read_fd_, sink.data(), sizeof sink) > 0) {
#if defined(__linux__)
        break;  // one read empties an eventfd
#endif
    }
}

}  // namespace tofu::detail

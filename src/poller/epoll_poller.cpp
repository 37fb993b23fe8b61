#include "poller/epoll_poller.hpp"

#include <cerrno>
#include <string>
#include <system_error>

#include <unistd.h>

#include <tofu/status.hpp>

namespace tofu::detail {
namespace {

std::uint32_t os_interest(Triggers interest) noexcept {
    std::uint32_t ev = 0;  // EPOLLERR and EPOLLHUP are always reported
    if (interest.any_of(read_triggers)) {
        ev |= EPOLLIN;
    }
    if (interest.any_of(write_triggers)) {
        ev |= EPOLLOUT;
    }
    return ev;
}

// The interest travels in the event's data beside the token, so translating back needs no lookup.
epoll_data_t pack(std::uint32_t token, Triggers interest) noexcept {
    epoll_data_t data{};
    data.u64 = (static_cast<std::uint64_t>(interest.bits()) << 32U) | token;
    return data;
}

[[noreturn]] void fail(const char* what) {
    throw Error{AmpeStatus::communication_failed,
                std::string{what} + ": " + std::system_category().message(errno)};
}

}  // namespace

EpollPoller::EpollPoller() : epoll_fd_{::epoll_create1(EPOLL_CLOEXEC)} {
    if (epoll_fd_ < 0) {
        throw Error{AmpeStatus::allocation_failed,
                    std::string{"epoll_create1: "} + std::system_category().message(errno)};
    }
}

EpollPoller::~EpollPoller() {
    ::close(epoll_fd_);
}

void EpollPoller::add(int fd, std::uint32_t token, Triggers interest) {
    epoll_event ev{os_interest(interest), pack(token, interest)};
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        fail("epoll_ctl(ADD)");
    }
}

void EpollPoller::modify(int fd, std::uint32_t token, Triggers interest) {
    epoll_event ev{os_interest(interest), pack(token, interest)};
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
        fail("epoll_ctl(MOD)");
    }
}

void EpollPoller::remove(int fd) noexcept {
    epoll_event ev{};
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, &ev);
}

std::span<const PollEvent> EpollPoller::wait(int timeout_ms) {
    int n = ::epoll_wait(epoll_fd_, os_events_.data(), max_events, timeout_ms);
    if (n < 0) {
        if (errno == EINTR) {
            return {};
        }
        fail("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
        const epoll_event& os = os_events_[static_cast<std::size_t>(i)];
        const auto interest = Triggers::from_bits(static_cast<std::uint8_t>(os.data.u64 >> 32U));
        Triggers fired;
        if ((os.events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
            fired |= interest & read_triggers;  // a hang-up reads as end of stream
        }
        if ((os.events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) {
            fired |= interest & write_triggers;  // a failed connect reports as writable
        }
        if ((os.events & (EPOLLERR | EPOLLHUP)) != 0) {
            fired |= Trigger::err;  // also for a socket registered for nothing else
        }
        events_[static_cast<std::size_t>(i)] = PollEvent{static_cast<std::uint32_t>(os.data.u64), fired};
    }
    return {events_.data(), static_cast<std::size_t>(n)};
}

}  // namespace tofu::detail

// Linux epoll backend, level-triggered: interest changes only when a channel's state changes
// (start or stop waiting for send space, pool starvation), so epoll_ctl stays off the hot path.
#pragma once

#include <array>
#include <span>

#include <sys/epoll.h>

#include "poller/triggers.hpp"

namespace tofu::detail {

class EpollPoller {
public:
    EpollPoller();
    ~EpollPoller();
    EpollPoller(const EpollPoller&) = delete;
    EpollPoller& operator=(const EpollPoller&) = delete;
    EpollPoller(EpollPoller&&) = delete;
    EpollPoller& operator=(EpollPoller&&) = delete;

    void add(int fd, std::uint32_t token, Triggers interest);
    void modify(int fd, std::uint32_t token, Triggers interest);
    void remove(int fd) noexcept;
    std::span<const PollEvent> wait(int timeout_ms);

    /// The backend's name, for logs and benchmarks.
    static constexpr const char* name = "epoll";
    /// A socket asked for no event still reports an error or a hang-up (EPOLLERR, EPOLLHUP).
    static constexpr bool watches_errors_alone = true;

private:
    static constexpr int max_events = 256;

    int epoll_fd_ = -1;
    std::array<epoll_event, max_events> os_events_{};
    std::array<PollEvent, max_events> events_{};
};

}  // namespace tofu::detail

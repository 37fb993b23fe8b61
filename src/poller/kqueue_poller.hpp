// kqueue backend (macOS, the BSDs; on Linux through libkqueue), level-triggered like the epoll one.
// A socket has two kqueue filters, read and write. A change of interest touches only the filter
// whose part of it changed: added when wanted, deleted when not (never merely disabled), in one
// kevent() call. libkqueue mistracks a filter added disabled, and fails to re-add one filter in
// the call that adds the other.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include <sys/event.h>

#include "poller/triggers.hpp"

namespace tofu::detail {

class KqueuePoller {
public:
    KqueuePoller();
    ~KqueuePoller();
    KqueuePoller(const KqueuePoller&) = delete;
    KqueuePoller& operator=(const KqueuePoller&) = delete;
    KqueuePoller(KqueuePoller&&) = delete;
    KqueuePoller& operator=(KqueuePoller&&) = delete;

    void add(int fd, std::uint32_t token, Triggers interest);
    void modify(int fd, std::uint32_t token, Triggers interest);
    void remove(int fd) noexcept;
    std::span<const PollEvent> wait(int timeout_ms);

    /// The backend's name, for logs and benchmarks.
    static constexpr const char* name = "kqueue";
    /// Errors come with a read or write filter's event: a socket with neither reports nothing.
    static constexpr bool watches_errors_alone = false;

private:
    static constexpr int max_events = 256;

    /// Brings `fd`'s filters from its registered interest to `interest`.
    void apply(int fd, std::uint32_t token, Triggers interest, const char* what);

    int kqueue_fd_ = -1;
    std::vector<Triggers> registered_;  ///< the interest each descriptor is registered with
    std::array<struct kevent, max_events> os_events_{};
    std::array<PollEvent, max_events> events_{};
};

}  // namespace tofu::detail

// Picks the poller backend at compile time (the build sets one TOFU_POLLER_* macro). Everything
// above this header is the same for every backend.
//
// A readiness backend (epoll, kqueue, poll) offers:
//   add(fd, token, interest)     register a socket with the triggers it waits for
//   modify(fd, token, interest)  change them (an empty set keeps only error reports)
//   remove(fd)                   forget the socket (before closing it)
//   wait(timeout_ms)             block up to timeout_ms (-1: no limit); returns the events
// The completion backend (io_uring) takes operations instead and reports them done; the loop's
// I/O driver for it is engine/completion_driver.cpp (engine/readiness_driver.cpp for the others).
#pragma once

#if defined(TOFU_POLLER_EPOLL)
#include "poller/epoll_poller.hpp"
namespace tofu::detail {
using Poller = EpollPoller;
}
#elif defined(TOFU_POLLER_KQUEUE)
#include "poller/kqueue_poller.hpp"
namespace tofu::detail {
using Poller = KqueuePoller;
}
#elif defined(TOFU_POLLER_IO_URING)
#include "poller/uring_proactor.hpp"
namespace tofu::detail {
using Poller = UringProactor;
}
#elif defined(TOFU_POLLER_POLL)
#include "poller/poll_poller.hpp"
namespace tofu::detail {
using Poller = PollPoller;
}
#else
#error "no poller backend selected: configure with -DTOFU_POLLER=epoll|kqueue|poll|io_uring"
#endif

// Picks the loop's I/O driver with the backend, at compile time (as Asio picks its epoll reactor
// or its io_uring service): a readiness driver waits for sockets to be ready and makes the system
// calls itself (epoll, kqueue, poll); a completion driver submits operations and acts on their
// completions (io_uring). Both offer the loop the same calls:
//   run(timeout_ms)              wait up to timeout_ms for I/O and handle it; how many events
//   begin_connect(ch, where)     start connecting a connection (its socket not made yet)
//   flush(ch)                    write what ch has queued, as far as the socket takes it now
//   set_interest(ch, triggers)   what a channel waits for from now on
//   read_buffered(ch)            read input the stream holds without a socket event
//   on_deadline(ch)              a timer the driver armed fired; true when it was one
//   release(ch)                  let go of the socket before it closes
//   sending(ch), frames_sending(ch)   a send in flight (completion only) and the frames it reaches
#pragma once

#if defined(TOFU_POLLER_IO_URING)
#include "engine/completion_driver.hpp"
namespace tofu::detail {
using IoDriver = CompletionDriver;
}
#else
#include "engine/readiness_driver.hpp"
namespace tofu::detail {
using IoDriver = ReadinessDriver;
}
#endif

// What the I/O backend keeps for each socket, chosen with the backend as the driver is
// (engine/io_driver.hpp), so no build carries the other model's fields.
#pragma once

#include <cstdint>

#include "net/socket.hpp"
#include "poller/triggers.hpp"

namespace tofu::detail {

#if defined(TOFU_POLLER_IO_URING)

/// The completion backend's: what a broken connection waits for before it closes.
struct IoState {
    /// A write failed; the connection closes with this once the receive in flight has brought
    /// what the peer said before it left.
    SocketError write_error;
    /// The peer's end (or a failed read) arrived while a send was in flight; acted on once the
    /// send completes, so that the last confirmation can follow it.
    IoResult peer_end;
    /// The frames the send in flight reaches into (the front of the queue).
    std::uint8_t frames_sending = 0;
    /// No receive was started because the stream's own answers wait to be sent
    /// (`ByteStream::output_backlogged`): the send's completion starts it.
    bool read_waits_for_send = false;
};

#else

/// A readiness backend's.
struct IoState {
    Triggers watched;         ///< what the poller watches the socket for (with its stream's needs)
    bool registered = false;  ///< the socket is in the poller
};

#endif

}  // namespace tofu::detail

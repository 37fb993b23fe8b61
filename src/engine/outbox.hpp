// A connection's sending side, as the loop's `Sender` keeps it: the frames waiting for the socket
// and what bounds them (the echoes it holds back, the send window, the stall watch).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "shared/message_queue.hpp"

namespace tofu::detail {

struct Outbox {
    MessageQueue queue;            ///< encoded frames waiting for the socket, oldest first
    std::size_t head_written = 0;  ///< bytes of the front frame already written
    std::uint64_t written = 0;     ///< bytes written to the peer, all told
    std::uint64_t stall_mark = 0;  ///< `written` when the stall timer was armed (Sender::watch_stall)
    /// Messages read from this connection that wait in its own queue (echoes: an application
    /// answering with the message it received), and their frames' bytes. Past the connection's
    /// share, it is not read until they are written: a peer that never reads cannot make us read
    /// on and queue its answers without end.
    std::size_t echo_bytes = 0;
    std::uint32_t echoes = 0;
    /// Bytes of echoes copied out of the pool's messages into messages of this connection's own,
    /// when others waited for the pool (Sender::relieve_pool); at most `max_released_echo_bytes`.
    std::size_t released_bytes = 0;
    /// Echoes that left the queue, all told: what a peer that takes its answers makes grow (not
    /// `written`, which our own confirmations move even while a peer confirms nothing).
    std::uint64_t echoes_out = 0;
    /// While echoes of its hold the dry pool: `echoes_out` when last seen, and since when unchanged.
    std::uint64_t relief_mark = 0;
    std::chrono::steady_clock::time_point relief_since{};
    bool echo_listed = false;   ///< in the sender's list of connections holding echoes
    bool flush_listed = false;  ///< in the sender's list of connections to write
    bool window_shut = false;   ///< writing stopped until the peer confirms (max_unconfirmed_frames)
};

}  // namespace tofu::detail

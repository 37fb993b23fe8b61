// One channel as the engine thread sees it: a listener or a connected peer.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/message_queue.hpp"
#include "engine/unconfirmed_log.hpp"
#include "message/frame_codec.hpp"
#include "net/socket.hpp"
#include "poller/triggers.hpp"

namespace tofu::detail {

class Group;

struct Channel {
    enum class Kind : std::uint8_t { listener, io };
    enum class State : std::uint8_t {
        listening,       ///< listener accepting connections
        connecting,      ///< client: non-blocking connect in progress
        awaiting_hello,  ///< server: accepted; the first frame must be HelloRequest
        open,            ///< exchanging messages
        draining,        ///< closed for the application; waiting for the peer's end after our ByeResponse
    };

    // Delivery confirmations (docs/engine.md, "Confirmations"): each side tells the other how
    // many frames it has received, so a break returns what the peer never confirmed.
    enum class Confirming : std::uint8_t {
        off,      ///< the peer does not confirm (or the channel is a listener)
        offered,  ///< client: our Hello offered confirmations; the server's first frame says
        on,       ///< both engines confirm
    };

    Channel(std::uint16_t n, Kind k, State s, Group* g, Socket sock) noexcept
        : group{g}, socket{std::move(sock)}, number{n}, kind{k}, state{s} {}

    // Larger members first, the small ones together at the end: a channel record per connection.
    Group* group;  ///< null once the application was told the channel closed
    Socket socket;

    MessageQueue send_queue;       ///< encoded frames waiting for the socket, oldest first
    std::size_t head_written = 0;  ///< bytes of the front frame already written

    FrameDecoder decoder;
    /// The channel's own message for a frame that arrives across reads (or waits for the pool):
    /// decoded here, not into a pool message, so a peer that stalls inside a frame holds none of
    /// the pool. Null while the decoder fills it, and until the first such frame; let go when the
    /// loop goes idle.
    MessagePtr assembly;
    const Message* assembly_frame = nullptr;  ///< the same message, wherever it is (null: none)
    std::vector<std::byte> stash;             ///< bytes read but not decoded because the pool ran dry
    std::size_t stash_used = 0;
    /// Average size of this channel's frames (0: none yet). Reads are sized by it and by the
    /// pool's idle messages, so one read rarely needs more messages than the pool can give.
    std::size_t average_frame = 0;

    std::uint64_t written = 0;        ///< bytes written to the peer, all told
    std::uint64_t stall_mark = 0;     ///< `written` when the stall timer was armed (Loop::watch_stall)
    std::uint64_t frames_in = 0;      ///< frames received from the peer (confirmations aside)
    std::uint64_t frames_out = 0;     ///< frames written to the peer (confirmations aside)
    std::uint64_t confirmed_in = 0;   ///< frames_in as our last confirmation told the peer
    std::uint64_t confirmed_out = 0;  ///< frames_out as the peer last confirmed
    /// frames_out when our ByeRequest was written (`no_bye`: none was): a ByeResponse confirms
    /// exactly these, as the peer read them before answering.
    std::uint64_t frames_before_bye = no_bye;
    static constexpr std::uint64_t no_bye = UINT64_MAX;
    UnconfirmedLog unconfirmed;             ///< regular frames written and not confirmed
    MessagePtr confirmation;                ///< our confirmation frame; null while it is queued to send
    Message* confirmation_frame = nullptr;  ///< the same message, wherever it is
    /// Completion backend: a write failed; the channel closes with this once the receive in
    /// flight has brought what the peer said before it left.
    SocketError write_error;
    /// Completion backend: the peer's end (or a failed read) arrived while a send was in flight;
    /// acted on once the send completes, so that the last confirmation can follow it.
    IoResult peer_end;

    /// When the channel's timer fires (see Loop::on_deadline); the default: no timer.
    std::chrono::steady_clock::time_point deadline;
    SocketFile socket_file;  ///< listener on a filesystem UDS path: removed when it closes, if still its own

    std::uint32_t serial = 0;  ///< which incarnation of the number (tells a stale completion apart)
    /// Messages read from this channel that wait in its own send queue (echoes: an application
    /// answering with the message it received), and their frames' bytes. Past the channel's
    /// share, the channel is not read until they are written: a peer that never reads cannot make
    /// us read on and queue its answers without end.
    std::uint32_t echoes_queued = 0;
    std::size_t echo_bytes = 0;
    std::uint16_t number;
    /// Completion backend: the frames the send in flight reaches into (the front of the queue).
    std::uint8_t frames_sending = 0;
    Kind kind;
    State state;
    Triggers interest;  ///< what the poller waits for now (completion backend: operations in flight)
    Confirming confirming = Confirming::off;
    bool registered = false;       ///< the socket is in the poller
    bool flush_listed = false;     ///< in the loop's list of channels to write
    bool starved = false;          ///< reading stopped until messages come back to the pool
    bool paused = false;           ///< reading stopped until its echoes are written (echoes_queued)
    bool window_shut = false;      ///< writing stopped until the peer confirms (max_unconfirmed_frames)
    bool assembly_listed = false;  ///< in the loop's list of channels keeping an assembly message
    bool confirm_listed = false;   ///< in the loop's list of channels owing a confirmation
    /// Draining after our ByeResponse: channel_closed waits until the peer confirmed everything.
    bool report_pending = false;
    bool refusing = false;  ///< listener: refused a connection since it last accepted one
};

}  // namespace tofu::detail

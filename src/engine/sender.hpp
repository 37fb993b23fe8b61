// The loop's writing: a connection's queue of encoded frames, gathered into vectored writes and
// retired as the socket takes them, and what bounds it: the echoes it holds back (a peer that
// never reads cannot make us read on and queue its answers without end), the send window (a peer
// that confirms must confirm before more is written) and the stall watch (a peer that takes
// nothing for `Options::stall_timeout` is given up on).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <tofu/message.hpp>

#include "engine/write_batch.hpp"
#include "net/native_socket.hpp"
#include "shared/message_queue.hpp"

namespace tofu::detail {

class Loop;
struct Connection;

class Sender {
    static constexpr std::size_t min_prune_at = 64;

public:
    using Clock = std::chrono::steady_clock;

    explicit Sender(Loop& loop);

    /// Encodes `msg` and queues it on `ch`, to be written this turn.
    void enqueue(Connection& ch, MessagePtr msg);
    /// Marks a message read from `ch`: posted back to `ch`, it counts as an echo.
    static void mark_source(const Connection& ch, Message& msg) noexcept;
    /// Everything `ch` has queued, to hand back as it closes (its echoes no longer count).
    [[nodiscard]] MessageQueue take_queue(Connection& ch);

    /// Lists `ch` for this turn's writes.
    void list_for_flush(Connection& ch);
    /// Writes for the listed connections (those whose socket is full wait for its readiness).
    void flush_listed();

    /// Points `parts` at `ch`'s queued frames from the first unwritten byte. Small frames are
    /// copied into `staging` (when given; it must outlive the write) and share its slices; a write
    /// without staging covers at most `max_frames_per_write` frames. Stops at the first Request,
    /// Response or Signal `window` does not admit.
    static Gathered gather(const Connection& ch, std::span<native::IoSlice> parts, SendWindow window,
                           std::span<std::byte> staging = {});
    /// Retires `written` bytes of `ch`'s queue; false when that closed or drained the connection.
    bool retire(Connection& ch, std::size_t written);

    /// What `ch` may write before its peer confirms more (no limit for a peer that does not
    /// confirm).
    [[nodiscard]] SendWindow window(const Connection& ch) const noexcept;
    /// The window is full: `ch` writes nothing more (and waits for no writability) until the peer
    /// confirms, or `Options::stall_timeout` passes.
    void shut_window(Connection& ch);
    /// A confirmation made room: `ch` writes again.
    void open_window(Connection& ch);
    /// `ch` has output its peer is not taking now: unless it writes some within
    /// `Options::stall_timeout`, it closes.
    void watch_stall(Connection& ch);
    /// The stall timer fired: closes `ch` if it wrote nothing since it was armed.
    void on_stall_deadline(Connection& ch);

    /// What `relieve_pool` did: pool messages went back to the reads, and when to look again.
    struct Relief {
        bool released = false;
        std::optional<Clock::time_point> again;  ///< a peer that takes nothing may be let go then
    };
    /// The pool ran dry. Echoes that wait for a peer taking none of its output now (its window
    /// shut, or its socket full) are copied out of the pool's messages into messages of their
    /// connection's own, each sized to its frame, up to `max_released_echo_bytes` a connection.
    /// A connection whose echoes do not all fit, and whose peer has taken nothing for a second
    /// (or `stall_timeout`) while the pool stays dry, is closed, and gives everything back. So
    /// peers that never read or never confirm cannot keep the pool from the others, and peers
    /// that read slowly keep theirs.
    Relief relieve_pool(Clock::time_point now);

private:
    /// Counts `msg` among `ch`'s echoes when it was read from `ch` itself, and stops reading `ch`
    /// once they pass the connection's share.
    void count_echo(Connection& ch, Message& msg);
    /// A queued message of `ch` left its queue: an echo no longer counts.
    void uncount_echo(Connection& ch, Message& msg);
    void on_sent(Connection& ch, MessagePtr msg);
    /// What `release_echoes` did for a connection.
    struct Released {
        bool moved = false;  ///< echoes copied out of pool messages
        bool kept = false;   ///< echoes still in pool messages (being written, or past its own memory)
    };
    /// `relieve_pool` for one connection whose output is stuck: what fits in its own memory.
    Released release_echoes(Connection& ch);
    /// Drops from `echo_holders_` the connections gone or holding no echoes, and duplicates.
    void prune_echo_holders();

    Loop& loop_;
    std::vector<std::uint16_t> flush_list_;    ///< connections with frames to write
    std::vector<std::uint16_t> echo_holders_;  ///< connections that queued echoes (some may have none now)
    std::size_t prune_at_ = min_prune_at;      ///< echo_holders_ is pruned when it grows past this
    std::vector<std::uint16_t> relieving_;     ///< echo_holders_ being relieved (kept for its capacity)
    /// How many of a connection's own messages may wait in its queue before it is not read
    /// (`echo_share`; and at most `echo_share_bytes` of them).
    const std::uint32_t echo_share_;
};

}  // namespace tofu::detail

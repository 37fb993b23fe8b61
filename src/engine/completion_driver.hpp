// The loop's I/O on the completion backend (io_uring): the driver submits accepts, connects,
// receives and sends, and acts on each when the kernel reports it done. A channel's `interest` is
// the set of its operations in flight; only their completions take them away. The kernel moves
// the socket's bytes; a connection's byte stream works on them in memory (absorb, seal, sent).
//
// A completion names its channel by number and serial, so one that arrives after the channel
// closed (or after its number went to a new channel) is recognised and dropped. Closing a channel
// cancels its operations synchronously: the kernel is done with its memory before the loop hands
// the channel's messages back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/channel.hpp"
#include "engine/write_slots.hpp"
#include "net/socket.hpp"
#include "poller/poller.hpp"

namespace tofu::detail {

class Loop;

class CompletionDriver {
public:
    /// Starts watching the engine's notifier.
    explicit CompletionDriver(Loop& loop);

    std::size_t run(int timeout_ms);
    void begin_connect(Connection& ch, const SocketAddress& where);
    void flush(Connection& ch);
    void set_interest(Connection& ch, Triggers interest);
    void set_interest(Listener& listener, Triggers interest);
    void read_buffered(Connection& ch);
    /// A broken connection's wait for its other half is over; true when `ch` was waiting so.
    bool on_deadline(Connection& ch);
    void release(Endpoint& ch) noexcept;
    /// True while the kernel holds a send of `ch`'s queued frames: the front of the queue is then
    /// not to be touched.
    [[nodiscard]] static bool sending(const Connection& ch) noexcept;
    [[nodiscard]] static std::size_t frames_sending(const Connection& ch) noexcept;

private:
    void on_completion(const Completion& c);
    void start_read(Connection& ch);
    void start_accept(Listener& listener);
    void on_read_done(Connection& ch, const Completion& c);
    /// What a receive brought (bytes, or the peer's end): decoded, and the next receive started.
    void on_input(Connection& ch, const IoResult& r, std::span<const std::byte> data);
    /// The peer's end: told now, or once the send in flight completes.
    void on_peer_end(Connection& ch, const IoResult& end);
    void on_write_done(const Completion& c);
    void on_accept_done(Listener* listener, const Completion& c);
    /// A write failed: the receive in flight brings what the peer said before it left.
    void write_failed(Connection& ch, const SocketError& error);
    /// The live channel a completion's tag names, or null when that channel is gone.
    [[nodiscard]] Channel* live(std::uint64_t tag) const noexcept;
    [[nodiscard]] static std::uint64_t tag_of(const Endpoint& ch) noexcept;

    Loop& loop_;
    Poller poller_;
    WriteSlots write_slots_;  ///< what each send in flight points the kernel at
};

}  // namespace tofu::detail

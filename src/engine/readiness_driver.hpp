// The loop's I/O on a readiness backend (epoll, kqueue, poll): the poller says a socket is ready,
// and the driver makes the system calls itself, through each connection's byte stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/channel.hpp"
#include "net/socket.hpp"
#include "poller/poller.hpp"

namespace tofu::detail {

class Loop;

class ReadinessDriver {
public:
    /// Starts watching the engine's notifier.
    explicit ReadinessDriver(Loop& loop);

    std::size_t run(int timeout_ms);
    void begin_connect(Connection& ch, const SocketAddress& where);
    void flush(Connection& ch);
    void set_interest(Connection& ch, Triggers interest);
    void set_interest(Listener& listener, Triggers interest);
    void read_buffered(Connection& ch) { on_readable(ch); }
    /// No timer of its own: false. (A member, as the completion driver's.)
    // NOLINTNEXTLINE(readability-convert-member-functions-to-static)
    [[nodiscard]] bool on_deadline(Connection& /*ch*/) const noexcept { return false; }
    void release(Endpoint& ch) noexcept;
    /// Writes happen in the driver's own calls: none is pending, unless the stream holds one back
    /// to be offered again (kernel TLS), which covers the front of the queue as a send in flight does.
    [[nodiscard]] static bool sending(const Connection& ch) noexcept { return ch.stream->holds_write(); }
    [[nodiscard]] static std::size_t frames_sending(const Connection& /*ch*/) noexcept { return 0; }

private:
    void on_event(const PollEvent& ev);
    void on_accept(Listener& listener);
    void on_connection_event(Connection& ch, Triggers fired);
    void on_readable(Connection& ch);
    /// One read and its decoding; true when the read filled what it asked for and the connection
    /// can take more (still open, not starved). Only the `first` read of an event starves the
    /// connection when the pool is empty; a later one just stops.
    bool read_once(Connection& ch, bool first);
    /// The pool is dry: takes the confirmations waiting in the socket (they need no message) and
    /// starves the connection if a frame that needs one waits behind them.
    void take_confirmations_or_starve(Connection& ch);
    /// `ch` may not decode: a read into its stash for confirmations, if its window is shut
    /// (Receiver::read_ahead_size); else it stops reading. True as `read_once`.
    bool read_ahead(Connection& ch);
    void on_drain_readable(Connection& ch);
    /// A write failed: the peer is gone. What it said before it left (its last confirmation, a
    /// ByeResponse, its last data) is still readable, so that is read first; then `ch` closes
    /// with `error` unless reading closed it.
    void write_failed(Connection& ch, const SocketError& error);
    /// Registers `registered` (what the socket must be watched for) and keeps `interest`.
    void watch(Endpoint& ch, Triggers interest, Triggers registered);
    /// Lists `ch` to be read next turn when its stream holds input and it reads.
    void note_held_input(Connection& ch);
    /// Reads the connections listed by `note_held_input`.
    void read_held_input();

    Loop& loop_;
    Poller poller_;
    std::unique_ptr<std::byte[]> read_buffer_;    ///< one for all connections: reads happen one at a time
    std::unique_ptr<std::byte[]> write_staging_;  ///< small frames of the write under way, copied
    std::vector<std::uint16_t> buffered_;         ///< connections whose streams hold input to read next turn
    std::vector<std::uint16_t> held_;             ///< those being read now (kept: no allocation)
};

}  // namespace tofu::detail

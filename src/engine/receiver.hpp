// The loop's reading: how much a read may ask for (bounded by the pool's messages at hand),
// decoding what arrived into messages and handing them on, and the two reasons a connection is not
// read for a while: starving (the pool is dry; resumed when messages come back) and pausing (its
// echoes wait to be written; resumed when they are).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include <tofu/message.hpp>

#include "net/socket.hpp"

namespace tofu::detail {

class Loop;
struct Connection;

class Receiver {
public:
    explicit Receiver(Loop& loop) : loop_{loop} {}

    /// Takes messages to decode into and says how many bytes one read may ask for (at most
    /// `limit`); 0 when the connection must not read now: the pool is dry (for the `first` read of
    /// a turn the pool's refill hook is then armed, and the caller starves the connection; a later
    /// read just stops).
    std::size_t read_size(Connection& ch, bool first, std::size_t limit);
    /// Handles what a read gave; true when the connection can take more (open, not starved).
    /// While `keeps_input`, that is `on_read_ahead`.
    bool on_read(Connection& ch, const IoResult& r, std::span<const std::byte> data);

    /// The pool is dry: `rest` (bytes read and not decoded) waits in the connection's stash, and
    /// the connection is not read until messages come back.
    void starve(Connection& ch, std::span<const std::byte> rest);
    /// Messages came back to the pool: starved connections decode their stash and read again,
    /// except those paused, which wait for `unpause`.
    void resume_starved();
    /// True once after a connection starved: the pool ran dry (Sender::relieve_pool may help).
    [[nodiscard]] bool take_pool_pressure() noexcept { return std::exchange(pool_pressed_, false); }
    /// Some connections wait for the pool.
    [[nodiscard]] bool starving() const noexcept { return !starved_.empty(); }
    /// A starved connection was unpaused: `resume_starved` should run, pool refilled or not.
    [[nodiscard]] bool resume_owed() const noexcept { return resume_owed_; }
    /// Stops reading `ch` until its echoes are written (Sender's echo count).
    void pause(Connection& ch);
    void unpause(Connection& ch);
    /// Reading `ch` is allowed: neither starved nor paused (a draining connection always reads).
    [[nodiscard]] static bool may_read(const Connection& ch) noexcept;
    /// `ch` drains: it reads only for the peer's last words, and keeps nothing read (what it kept
    /// is decoded for them first). False when that closed it.
    bool drain(Connection& ch);

    /// Reading ahead. A connection that may not decode (starved or paused) while its send window
    /// is shut would wait for ever for the confirmation that opens the window if its peer sent it
    /// behind more Requests. So it reads on, into its stash (up to `max_read_ahead`, within its budget),
    /// and takes the confirmations out of what it read; the other frames wait there, in order.
    /// How many bytes its next read may ask for (at most `limit`): 0 when it reads no more now.
    [[nodiscard]] static std::size_t read_ahead_size(const Connection& ch, std::size_t limit) noexcept;
    /// `read_ahead_size` is not 0: `ch` reads ahead now.
    [[nodiscard]] static bool reads_ahead(const Connection& ch) noexcept;
    /// True when what `ch` reads now goes to its stash, not to the decoder.
    [[nodiscard]] static bool keeps_input(const Connection& ch) noexcept;
    /// What a read ahead gave: kept in the stash, its confirmations applied; true when `ch` may
    /// read ahead on.
    bool on_read_ahead(Connection& ch, const IoResult& r, std::span<const std::byte> data);
    /// The send window of `ch` shut: if it may not decode, it starts reading ahead.
    void on_window_shut(Connection& ch);
    /// Lets go of the connections' own messages that no frame is using (before the loop sleeps).
    void release_assemblies();

private:
    /// Handles a read that brought no bytes: nothing yet, an error, or the peer's end (`ch` closes
    /// with `end_detail`). False when `r` brought bytes.
    bool brought_nothing(Connection& ch, const IoResult& r, std::string_view end_detail);
    bool decode(Connection& ch, std::span<const std::byte>& in);
    /// After a frame of `ch` (number `number`) was handled: decoding goes on.
    [[nodiscard]] bool still_decoding(const Connection& ch, std::uint16_t number) const noexcept;
    void on_received(Connection& ch, MessagePtr msg);
    /// The first frame of an accepted connection: a HelloRequest, given `~peer`.
    bool on_hello(Connection& ch, Message& hello);
    /// The message for the frame whose header was just decoded: a pool message when the rest of
    /// the frame is at hand in `in`, else the connection's own (a frame still arriving lives in
    /// its connection's budget, not in the pool).
    [[nodiscard]] MessagePtr frame_target(Connection& ch, std::span<const std::byte> in);
    /// The decoded frame, in a pool message: one assembled in the connection's own message trades
    /// contents with a pool message (no copy). Null when the pool has none: the connection starves.
    [[nodiscard]] MessagePtr take_frame(Connection& ch);
    /// The connection's own message, made on first use.
    [[nodiscard]] static MessagePtr take_assembly(Connection& ch);
    /// Gives the connection its own message back (listed, so an idle loop lets it go).
    void keep_assembly(Connection& ch, MessagePtr own);
    /// `ch` is open and takes confirmations from its peer: what it reads ahead is looked at for them.
    [[nodiscard]] static bool confirms_ahead(const Connection& ch) noexcept;
    /// `ch` stops decoding (starved or paused): it stops reading too, unless it reads ahead.
    void stop_decoding(Connection& ch);
    /// Applies the confirmations in the stash of `ch` not looked at yet; false when `ch` closed.
    bool take_confirmations_ahead(Connection& ch);

    Loop& loop_;
    std::vector<std::uint16_t> starved_;        ///< connections waiting for the pool
    std::vector<std::uint16_t> resuming_;       ///< starved_ being resumed (kept for its capacity)
    std::vector<std::uint16_t> assembly_list_;  ///< connections keeping their own message idle
    bool pool_pressed_ = false;                 ///< a connection starved since the loop last looked
    bool resume_owed_ = false;                  ///< see resume_owed()
};

}  // namespace tofu::detail

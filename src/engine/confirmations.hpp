// Delivery confirmations, for every backend: two tofu engines tell each other how many frames they
// have received, so that when a connection breaks each side knows which of the messages it wrote
// may never have arrived, and returns them (docs/engine.md, "Confirmations"). A connection's state
// for them is its `ConfirmState`; this part keeps the loop's list of connections owing one.
//
// The client offers them in its HelloRequest (`~confirm:1`); a server that takes the offer makes a
// confirmation its first frame, so the client knows from the first frame it reads. A confirmation
// rides in front of data the connection writes anyway; a connection that only receives sends one
// after every `confirm_batch` frames, and what is left after `confirm_delay` at the latest.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include <tofu/message.hpp>

namespace tofu::detail {

class ReceiveQueue;
class Loop;
struct Connection;

class Confirmations {
public:
    using Clock = std::chrono::steady_clock;

    explicit Confirmations(Loop& loop) : loop_{loop} {}

    /// Client: our HelloRequest offers confirmations.
    static void offer(Connection& ch, Message& hello);
    /// Server: takes the offer a peer's HelloRequest makes, if it makes one.
    void take_offer(Connection& ch, const Message& hello);
    /// Client: a frame was read; the first one says whether the server took our offer (a server
    /// that confirms makes a confirmation its first frame).
    static void first_frame_read(Connection& ch);
    /// The peer confirmed `count` frames; false when that was a violation and closed the connection.
    bool on_confirmation(Connection& ch, std::uint64_t count);
    /// A ByeResponse arrived: when it answers our ByeRequest, the peer has everything we wrote
    /// before that; one sent unasked confirms nothing.
    void confirmed_by_bye_response(Connection& ch);
    /// True while our close waits for the peer to confirm what we wrote.
    [[nodiscard]] static bool awaited(const Connection& ch) noexcept;

    /// A frame of `msg` was written: counted, and logged until confirmed when it is a regular one.
    static void on_frame_written(Connection& ch, const Message& msg);
    /// A written frame left the queue: true when it was our confirmation (taken home, and owed
    /// again later if more arrived meanwhile).
    bool on_written(Connection& ch, MessagePtr& msg);
    /// True when `msg` is our confirmation frame (taken home): the engine's, not the application's.
    static bool take_home(Connection& ch, MessagePtr& msg) noexcept;

    /// After reading: confirm now when enough arrived, else list the connection for a later round.
    void owe(Connection& ch);
    /// A confirmation rides in front of data the connection writes anyway.
    void piggyback(Connection& ch);
    /// Confirms for the listed connections once their delay is up.
    void send_owed();
    /// When the listed connections are due; none when none is listed.
    [[nodiscard]] std::optional<Clock::time_point> due() const noexcept;
    /// Tells the peer what arrived, before the socket closes (best effort, one small write).
    static void confirm_before_closing(Connection& ch) noexcept;

    /// Returns the frames the peer never confirmed to `group`, each as its binary header: in an
    /// idle pool message, else a standalone one (at most `max_unconfirmed_frames`, none of which
    /// ever joins the pool).
    void return_unconfirmed(Connection& ch, ReceiveQueue& group, AmpeStatus status);
    /// Makes `m` (reset) the report of a frame that was (or may have been) written, as its binary
    /// header marked `~unconfirmed`: it may or may not have arrived.
    static void make_unconfirmed(Message& m, std::uint16_t channel, const BinaryHeader& written,
                                 AmpeStatus status);

private:
    static void make_confirmation(Connection& ch);
    void owe_later(Connection& ch);
    /// Puts the connection's confirmation (of everything received so far) in front of its queue;
    /// false when it cannot go now (it is queued already, or a send is in flight) and waits.
    bool queue(Connection& ch);
    /// Queues the confirmation and lists the connection for writing.
    void send(Connection& ch);

    Loop& loop_;
    std::vector<std::uint16_t> listed_;  ///< connections owing their peer a confirmation
    std::vector<std::uint16_t> owed_;    ///< listed_ being served (kept for its capacity)
    Clock::time_point due_;              ///< when listed_ is served
};

}  // namespace tofu::detail

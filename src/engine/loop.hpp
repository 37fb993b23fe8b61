// The event loop: runs on the engine thread and owns everything that touches sockets. It takes
// posted messages from the inbox, writes them with vectored writes, decodes what it reads into pool
// messages and delivers them to groups in batches.
//
// loop.cpp holds what every backend shares. How I/O happens is the other half, chosen with the
// backend: loop_readiness.cpp waits for readiness and makes the system calls itself (epoll, kqueue,
// poll); loop_completion.cpp submits operations and handles their completions (io_uring).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <tofu/message.hpp>

#include "engine/channel.hpp"
#include "engine/channel_timers.hpp"
#include "engine/message_queue.hpp"
#include "engine/write_batch.hpp"
#if defined(TOFU_POLLER_IO_URING)
#include "engine/write_slots.hpp"
#endif
#include "poller/poller.hpp"

namespace tofu::detail {

class EngineCore;
class Group;

class Loop {
public:
    explicit Loop(EngineCore& core);
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;
    Loop(Loop&&) = delete;
    Loop& operator=(Loop&&) = delete;

    /// Runs until the core asks to stop, then closes every channel.
    void run() noexcept;

private:
    using Clock = std::chrono::steady_clock;

    // Posted messages and commands.
    void take_inbox();
    /// Moves the messages for `ch` from the inbox and `posted_` to `unsent` (its channel is
    /// closing: they come back with the rest, before channel_closed); the others wait in `posted_`.
    void take_inbox_closing(const Channel& ch, MessageQueue& unsent);
    void on_posted(MessagePtr msg);
    void on_welcome(Group& group, MessagePtr msg);
    void on_hello(Group& group, MessagePtr msg);
    void on_destroy_group(Group& group);
    void enqueue(Channel& ch, MessagePtr msg);
    /// Counts `msg` among `ch`'s echoes when it was read from `ch` itself, and stops reading `ch`
    /// once they pass the channel's share (a peer that never reads cannot make us read on and
    /// queue its answers, holding the pool's messages, without end).
    void count_echo(Channel& ch, Message& msg);
    /// A queued message of `ch` left its queue: an echo no longer counts.
    void uncount_echo(Channel& ch, Message& msg);

    // I/O, one half per backend model (loop_readiness.cpp or loop_completion.cpp).
    /// Starts watching the notifier (constructor).
    void start_io();
    /// Waits up to timeout_ms for I/O and handles what happened; returns how many events (or
    /// completions) it handled.
    std::size_t run_io(int timeout_ms);
    /// Before sleeping: looks for work for up to `Options::idle_spin` (posted messages, a refill,
    /// ready sockets), yielding the CPU between looks, and no longer than `timeout_ms` (-1: no
    /// timer is due); true when it found some.
    bool spin_for_work(int timeout_ms);
    /// Starts connecting `ch` (its socket not made yet) to `where`.
    void begin_connect(Channel& ch, const SocketAddress& where);
    /// Writes what `ch` has queued, as far as the socket takes it now.
    void flush(Channel& ch);
    /// A write failed: the peer is gone. What it said before it left (its last confirmation, a
    /// ByeResponse, its last data) is still readable, so that is read first; then `ch` closes with
    /// `error` unless reading closed it.
    void write_failed(Channel& ch, const SocketError& error);
    /// What `ch` waits for from now on (readiness: what the poller watches; completion: the
    /// operations to have in flight, which only completions take away).
    void set_interest(Channel& ch, Triggers interest);
    /// The backend lets go of `ch`'s socket before it closes.
    void release_io(Channel& ch) noexcept;
    /// True while the kernel holds a send of `ch`'s queued frames (completion backend): the
    /// front of the queue is then not to be touched.
    [[nodiscard]] static bool sending(const Channel& ch) noexcept;
#if defined(TOFU_POLLER_IO_URING)
    void on_completion(const Completion& c);
    void start_read(Channel& ch);
    void start_accept(Channel& listener);
    void on_read_done(Channel& ch, const Completion& c);
    /// What a receive brought (bytes, or the peer's end): decoded, and the next receive started.
    void on_input(Channel& ch, const IoResult& r, std::span<const std::byte> data);
    void on_write_done(const Completion& c);
    void on_accept_done(Channel* listener, const Completion& c);
    /// The live channel a completion's tag names, or null when that channel is gone.
    [[nodiscard]] Channel* live(std::uint64_t tag) const noexcept;
    [[nodiscard]] static std::uint64_t tag_of(const Channel& ch) noexcept;
#else
    void on_event(const PollEvent& ev);
    void on_accept(Channel& listener);
    void on_readable(Channel& ch);
    /// One read and its decoding; true when the read filled what it asked for and the channel can
    /// take more (still open, not starved). Only the `first` read of an event starves the channel
    /// when the pool is empty; a later one just stops.
    bool read_once(Channel& ch, bool first);
    /// The pool is dry: takes the confirmations waiting in the socket (they need no message) and
    /// starves the channel if a frame that needs one waits behind them.
    void take_confirmations_or_starve(Channel& ch);
    void on_drain_readable(Channel& ch);
#endif

    // Shared by both halves.
    /// Takes a connection a listener accepted into a new channel (or refuses it past the limit).
    void adopt(Channel& listener, Socket accepted);
    /// Reports `accept_failed` with `why` on a listener, once until it accepts again.
    void refuse(Channel& listener, std::string_view why);
    /// A listener could not accept (out of descriptors, say): it rests, then tries again.
    void pause_accepting(Channel& listener, int os_error);
    /// A connect finished: `result` says how.
    void on_connected(Channel& ch, const SocketError& result);
    /// Takes messages to decode into from the pool and says how many bytes one read may ask for
    /// (at most `limit`); 0 when the channel must not read now: the pool is dry (for the `first`
    /// read of a turn the pool's refill hook is then armed, and the caller starves the channel; a
    /// later read just stops).
    std::size_t read_size(Channel& ch, bool first, std::size_t limit);
    /// Takes read targets from the pool in one batch; returns how many the loop holds.
    std::size_t take_read_targets(const Channel& ch, std::size_t limit);
    /// One message to decode into: a spare, an idle pool message, or a new one while the pool is
    /// below its maximum; null when the pool is dry (its refill hook is then armed).
    [[nodiscard]] MessagePtr read_target();
    /// The message for the frame whose header was just decoded: a pool message when the rest of
    /// the frame is at hand in `in`, else the channel's own (a frame still arriving lives in its
    /// connection's budget, not in the pool).
    [[nodiscard]] MessagePtr frame_target(Channel& ch, std::span<const std::byte> in);
    /// The decoded frame, in a pool message: one assembled in the channel's own message trades
    /// contents with a pool message (no copy). Null when the pool has none: the channel starves.
    [[nodiscard]] MessagePtr take_frame(Channel& ch);
    /// The channel's own message, made on first use.
    [[nodiscard]] static MessagePtr take_assembly(Channel& ch);
    /// Gives the channel its own message back (listed, so an idle loop lets it go).
    void keep_assembly(Channel& ch, MessagePtr own);
    /// Lets go of the channels' own messages that no frame is using (before the loop sleeps).
    void release_assemblies();
    /// Handles what a read gave; true when the channel can take more (open, not starved).
    bool on_read(Channel& ch, const IoResult& r, std::span<const std::byte> data);
    bool decode(Channel& ch, std::span<const std::byte>& in);
    /// After a frame of `ch` (number `number`) was handled: decoding goes on.
    [[nodiscard]] bool still_decoding(const Channel& ch, std::uint16_t number) const noexcept;
    void on_received(Channel& ch, MessagePtr msg);
    /// Points `parts` at `ch`'s queued frames from the first unwritten byte. Small frames are
    /// copied into `staging` (when given; it must outlive the write) and share its slices; a write
    /// without staging covers at most `max_frames_per_write` frames.
    /// Stops at the first Request, Response or Signal past `regular_budget` (the send window).
    static Gathered gather(const Channel& ch, std::span<native::IoSlice> parts, std::size_t regular_budget,
                           std::span<std::byte> staging = {});
    /// How many more Requests, Responses and Signals `ch` may write before its peer confirms: the
    /// room left in its send window (no limit for a peer that does not confirm).
    [[nodiscard]] std::size_t window(const Channel& ch) const noexcept;
    /// The window is full: `ch` writes nothing more (and waits for no writability) until the peer
    /// confirms, or `Options::stall_timeout` passes.
    void shut_window(Channel& ch);
    /// A confirmation made room: `ch` writes again.
    void open_window(Channel& ch);
    /// `ch` has output its peer is not taking now: unless it writes some within
    /// `Options::stall_timeout`, it closes.
    void watch_stall(Channel& ch);
    /// The stall timer fired: closes `ch` if it wrote nothing since it was armed.
    void on_stall_deadline(Channel& ch);
    /// Retires `written` bytes of `ch`'s queue; false when that closed or drained the channel.
    bool retire(Channel& ch, std::size_t written);

    // Delivery confirmations (loop_confirmations.cpp).
    /// Client: our HelloRequest offers confirmations.
    static void offer_confirmations(Channel& ch, Message& hello);
    /// Server: takes the offer a peer's HelloRequest makes, if it makes one.
    void take_confirmation_offer(Channel& ch, const Message& hello);
    /// Client: the server's first frame was not a confirmation, so it does not confirm.
    static void decline_confirmations(Channel& ch);
    static void make_confirmation(Channel& ch);
    /// The peer confirmed `count` frames; false when that was a violation and closed the channel.
    bool on_confirmation(Channel& ch, std::uint64_t count);
    /// A ByeResponse arrived: when it answers our ByeRequest, the peer has everything we wrote
    /// before that; one sent unasked confirms nothing.
    void confirmed_by_bye_response(Channel& ch);
    /// A frame of `msg` was written: counted, and logged until confirmed when it is a regular one.
    static void on_frame_written(Channel& ch, const Message& msg);
    /// After reading: confirm now when enough arrived, else list the channel for a later round.
    void owe_confirmation(Channel& ch);
    void owe_confirmation_later(Channel& ch);
    /// Puts the channel's confirmation (of everything received so far) in front of its queue;
    /// false when it cannot go now (it is queued already, or a send is in flight) and waits.
    bool queue_confirmation(Channel& ch);
    /// Queues the confirmation and lists the channel for writing.
    void send_confirmation(Channel& ch);
    /// A confirmation rides in front of data the channel writes anyway.
    void piggyback_confirmation(Channel& ch);
    /// Confirms for the listed channels once their delay is up.
    void send_owed_confirmations();
    /// Tells the peer what arrived, before the socket closes (best effort, one small write).
    static void confirm_before_closing(Channel& ch) noexcept;
    /// Returns the frames the peer never confirmed to `group`, each as its binary header: in an
    /// idle pool message, else a standalone one (at most `max_unconfirmed_frames`, none of which
    /// ever joins the pool).
    void return_unconfirmed(Channel& ch, Group& group, AmpeStatus status);
    /// Makes `m` (reset) the report of a frame that was (or may have been) written, as its binary
    /// header marked `~unconfirmed`: it may or may not have arrived.
    static void make_unconfirmed(Message& m, std::uint16_t channel, const BinaryHeader& written,
                                 AmpeStatus status);

    // Writing.
    void list_for_flush(Channel& ch);
    void flush_listed();
    void on_sent(Channel& ch, MessagePtr msg);
    /// Returns all spares but the newest `keep` to the pool, in one batch.
    void return_spares(std::size_t keep);

    // Backpressure.
    void starve(Channel& ch, std::span<const std::byte> rest);
    /// Stops reading `ch` until its echoes are written (`count_echo`).
    void pause(Channel& ch);
    void unpause(Channel& ch);
    /// Reading `ch` is allowed: neither starved nor paused (a draining channel always reads).
    [[nodiscard]] static bool may_read(const Channel& ch) noexcept;
    /// The `pool_empty` report for a starving channel: made from `report_spare_` when there is
    /// one, so starving (when the pool has nothing by definition) does not allocate.
    [[nodiscard]] MessagePtr pool_empty_report(std::uint16_t channel);
    void resume_starved();

    // Closing.
    /// Closes `ch`: reports it to its group (`detail` goes into `~detail`) and frees it.
    void close(Channel& ch, AmpeStatus reason, std::string_view detail = {});
    void close(Channel& ch, const SocketError& error);
    void report_closed(Channel& ch, AmpeStatus reason, std::string_view detail);
    void start_draining(Channel& ch);
    void finish_draining(Channel& ch);
    // Timers.
    void arm(Channel& ch, Clock::duration after);
    void expire_timers();
    /// A channel's timer fired: its handshake, its drain or a listener's pause is over.
    void on_deadline(Channel& ch);
    void forget(Channel& ch);
    void shut_down();

    // Delivery and bookkeeping.
    /// Counts what the engine holds (`Reactor::memory`) and answers.
    void answer_memory();
    void deliver(Group& group, MessagePtr msg);
    void deliver_pending();
    [[nodiscard]] Channel* find(std::uint16_t number) const noexcept;
    Channel& install(std::unique_ptr<Channel> ch);
    [[nodiscard]] int wait_timeout_ms() const;
    /// Posted messages, a refill or a stop request wait: the loop must not sleep.
    [[nodiscard]] bool work_waiting() const noexcept;

    EngineCore& core_;
    Poller poller_;
    std::vector<std::unique_ptr<Channel>> channels_;  ///< by channel number
    std::vector<std::uint16_t> flush_list_;           ///< channels with frames to write
    std::vector<std::uint16_t> starved_;              ///< channels waiting for the pool
    std::vector<std::uint16_t> resuming_;             ///< starved_ being resumed (kept for its capacity)
    std::vector<std::uint16_t> confirm_list_;         ///< channels owing their peer a confirmation
    std::vector<std::uint16_t> assembly_list_;        ///< channels keeping their own message idle
    std::vector<std::uint16_t> owed_;                 ///< confirm_list_ being served (kept for its capacity)
    Clock::time_point confirm_due_;                   ///< when confirm_list_ is served
    ChannelTimers timers_;
    SocketSettings settings_;            ///< from the engine's options
    std::vector<Group*> delivery_list_;  ///< groups with pending deliveries
#if defined(TOFU_POLLER_IO_URING)
    WriteSlots write_slots_;  ///< what each send in flight points the kernel at
#else
    std::unique_ptr<std::byte[]> read_buffer_;    ///< one for all channels: reads happen one at a time
    std::unique_ptr<std::byte[]> write_staging_;  ///< small frames of the write under way, copied
#endif
    /// Posted messages taken from the inbox and not yet handled, oldest first.
    MessageQueue posted_;
    /// Pool messages written by this engine (and read targets left over): reused for reading
    /// without the pool's lock. A turn keeps `spares_kept_` of them and returns the rest in one
    /// batch; all go back before the loop sleeps.
    MessageQueue spares_;
    const std::size_t spares_kept_;  ///< spares that stay from one turn to the next
    /// How many of a channel's own messages may wait in its send queue before it is not read
    /// (`echo_share`; and at most `echo_share_bytes` of them).
    const std::uint32_t echo_share_;
    /// One message kept back from the spares for the next `pool_empty` report.
    MessagePtr report_spare_;
    std::uint32_t next_serial_ = 0;  ///< the serial of the next channel installed
};

}  // namespace tofu::detail

// The event loop: runs on the engine thread and owns everything that touches sockets. It takes
// posted messages from the inbox, writes them with vectored writes, reads into one buffer shared by
// all channels, decodes frames into pool messages and delivers them to groups in batches.
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
    void on_posted(MessagePtr msg);
    void on_welcome(Group& group, MessagePtr msg);
    void on_hello(Group& group, MessagePtr msg);
    void on_destroy_group(Group& group);
    void enqueue(Channel& ch, MessagePtr msg);

    // Poller events.
    void on_event(const PollEvent& ev);
    void on_accept(Channel& listener);
    /// Reports `accept_failed` with `why` on a listener, once until it accepts again.
    void refuse(Channel& listener, std::string_view why);
    /// A connecting socket became writable (or failed): `reported_error` is the error the poller
    /// gave with the event, 0 when the socket itself is to be asked.
    void on_connected(Channel& ch, int reported_error);
    void on_readable(Channel& ch);
    /// One read and its decoding; true when the read filled what it asked for and the channel can
    /// take more (still open, not starved). Only the `first` read of an event starves the channel
    /// when the pool is empty; a later one just stops.
    bool read_once(Channel& ch, bool first);
    void on_drain_readable(Channel& ch);
    bool decode(Channel& ch, std::span<const std::byte>& in);
    void on_received(Channel& ch, MessagePtr msg);

    // Writing.
    void flush(Channel& ch);
    void flush_listed();
    void on_sent(Channel& ch, MessagePtr msg);
    /// A message to decode into: one written this turn, else one from the pool (null when empty).
    [[nodiscard]] MessagePtr spare_or_pool();

    // Backpressure.
    void starve(Channel& ch, std::span<const std::byte> rest);
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
    void deliver(Group& group, MessagePtr msg);
    void deliver_pending();
    void set_interest(Channel& ch, Triggers interest);
    [[nodiscard]] Channel* find(std::uint16_t number) const noexcept;
    Channel& install(std::unique_ptr<Channel> ch);
    [[nodiscard]] int wait_timeout_ms() const;

    EngineCore& core_;
    Poller poller_;
    std::vector<std::unique_ptr<Channel>> channels_;  ///< by channel number
    std::vector<std::uint16_t> flush_list_;           ///< channels with frames to write
    std::vector<std::uint16_t> starved_;              ///< channels waiting for the pool
    std::vector<std::uint16_t> resuming_;             ///< starved_ being resumed (kept for its capacity)
    ChannelTimers timers_;
    SocketSettings settings_;            ///< from the engine's options
    std::vector<Group*> delivery_list_;  ///< groups with pending deliveries
    std::unique_ptr<std::byte[]> read_buffer_;
    /// Pool messages written during this loop turn: reused for reading without the pool's lock,
    /// the rest returned in one batch before the loop sleeps.
    MessageQueue spares_;
    /// One message kept back from the spares for the next `pool_empty` report.
    MessagePtr report_spare_;
};

}  // namespace tofu::detail

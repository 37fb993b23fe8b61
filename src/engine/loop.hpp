// The event loop: runs on the engine thread and owns everything that touches sockets. It keeps the
// turn (posted messages, timers, closing, delivery to groups) and owns the parts that do the rest,
// one job each (docs/engine.md, "Who is who"):
//   Acceptor       listeners: opening, accepting, resting, refusing
//   Receiver       reading: read sizes, decoding, starving and resuming, pausing
//   ReadTargets    the pool messages kept at hand to decode into
//   Sender         writing: queues, gathering, retiring, the send window, the stall watch
//   Confirmations  delivery confirmations between two tofu engines
//   Connector      client connections: a HelloRequest's lookup, connect and timeout, until its
//                  HelloResponse
//   IoDriver       the backend's model: readiness (epoll, kqueue, poll) or completion (io_uring)
//   Resolver       host names (a connect's, a listener's) looked up on lookup threads
// The parts reach each other through the loop. The loop reaches the state it shares with
// application threads through `EngineState` alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <tofu/message.hpp>

#include "engine/acceptor.hpp"
#include "engine/channel.hpp"
#include "engine/channel_timers.hpp"
#include "engine/confirmations.hpp"
#include "engine/connector.hpp"
#include "engine/io_driver.hpp"
#include "engine/read_targets.hpp"
#include "engine/receiver.hpp"
#include "engine/resolver.hpp"
#include "engine/sender.hpp"
#include "shared/message_queue.hpp"

namespace tofu::detail {

class EngineState;
class ReceiveQueue;

class Loop {
public:
    using Clock = std::chrono::steady_clock;

    explicit Loop(EngineState& engine);
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;
    Loop(Loop&&) = delete;
    Loop& operator=(Loop&&) = delete;

    /// Runs until the engine is asked to stop, then closes every channel.
    void run() noexcept;

    // --- For the loop's parts ---------------------------------------------------------------

    [[nodiscard]] EngineState& engine() const noexcept { return engine_; }
    [[nodiscard]] const SocketSettings& settings() const noexcept { return settings_; }
    [[nodiscard]] Acceptor& acceptor() noexcept { return acceptor_; }
    [[nodiscard]] Receiver& receiver() noexcept { return receiver_; }
    [[nodiscard]] ReadTargets& targets() noexcept { return targets_; }
    [[nodiscard]] Sender& sender() noexcept { return sender_; }
    [[nodiscard]] Confirmations& confirmations() noexcept { return confirmations_; }
    [[nodiscard]] Connector& connector() noexcept { return connector_; }
    [[nodiscard]] IoDriver& io() noexcept { return io_; }
    [[nodiscard]] Resolver& resolver() noexcept { return resolver_; }

    /// The channel numbered `number`, or null.
    [[nodiscard]] Channel* find(std::uint16_t number) const noexcept;
    /// The connection numbered `number`, or null (none, or a listener).
    [[nodiscard]] Connection* connection(std::uint16_t number) const noexcept;
    /// True while `ch` is still open (the calls that may close it are behind us).
    [[nodiscard]] bool alive(const Connection& ch, std::uint16_t number) const noexcept {
        return connection(number) == &ch;
    }
    Listener& install(Listener listener);
    Connection& install(Connection connection);

    /// Queues `msg` for `group`'s receivers; the turn delivers each group's batch at once.
    void deliver(ReceiveQueue& group, MessagePtr msg);
    /// Closes `ch`: reports it to its group (`detail` goes into `~detail`) and frees it.
    void close(Connection& ch, AmpeStatus reason, std::string_view detail = {});
    void close(Connection& ch, const SocketError& error);
    /// Closes a listener; `returned` (its WelcomeRequest, when it could not listen) comes back
    /// first, with the reason.
    void close(Listener& listener, AmpeStatus reason, std::string_view detail = {}, MessagePtr returned = {});
    void close(Listener& listener, const SocketError& error, MessagePtr returned = {});
    /// Tells the group `ch` closed, with everything it did not write or the peer did not confirm;
    /// the first `in_flight` queued frames were in a send the kernel may have made (cancelled by now).
    /// `quiet`: no `channel_closed` when nothing comes back (the application was told otherwise).
    void report_closed(Connection& ch, AmpeStatus reason, std::string_view detail, std::size_t in_flight = 0,
                       bool quiet = false);
    /// A connect finished (`result` says how): the connection opens and writes what waits, or closes.
    void on_connected(Connection& ch, const SocketError& result);
    /// Our ByeResponse is written: the channel waits for the peer's end (and confirmation).
    void start_draining(Connection& ch);
    void finish_draining(Connection& ch);
    /// Sets `ch`'s timer (one per channel: a later call replaces it). An `after` past the clock's
    /// range sets a timer that never fires (engine/deadline.hpp).
    void arm(Endpoint& ch, std::chrono::milliseconds after);

private:
    void take_inbox();
    /// Hands each finished lookup to the listener or connection waiting for it; drops the results
    /// of channels that closed meanwhile (a ByeSignal, a timeout, their group gone).
    void take_lookups();
    /// Moves the messages `group` posted to channel `number` from the inbox and `posted_` to
    /// `unsent` (the channel is closing: they come back with the rest, before channel_closed); the
    /// others wait in `posted_`.
    void take_inbox_closing(std::uint16_t number, const ReceiveQueue* group, MessageQueue& unsent);
    void on_posted(MessagePtr msg);
    void on_destroy_group(ReceiveQueue& group);
    void close(Channel& ch, AmpeStatus reason);
    /// A message posted to channel `number` and never written comes back to `group` with `status`.
    void return_unsent(ReceiveQueue& group, std::uint16_t number, MessagePtr msg, AmpeStatus status);
    void report_channel_closed(ReceiveQueue& group, std::uint16_t number, AmpeStatus reason,
                               std::string_view detail);
    void forget(Endpoint& ch);

    void expire_timers();
    /// The application's timers due by `now` go to their groups (`ChannelGroup::update_receiver`).
    void expire_app_timers(Clock::time_point now);
    /// A channel's timer fired: a handshake, a connect, a drain, a stall watch or a listener's rest
    /// is over.
    void on_deadline(Connection& ch);
    void shut_down();

    /// Counts what the engine holds (`Reactor::memory`) and answers.
    void answer_memory();
    void deliver_pending();
    /// After a connection starved, and again when `relief_due_` comes while some still starve:
    /// `Sender::relieve_pool`. True when pool messages went back to the reads.
    bool relieve_pool();
    [[nodiscard]] int wait_timeout_ms() const;
    /// Posted messages, a refill or a stop request wait: the loop must not sleep.
    [[nodiscard]] bool work_waiting() const noexcept;
    /// Before sleeping: looks for work for up to `Options::idle_spin` (posted messages, a refill,
    /// ready sockets), yielding the CPU between looks, and no longer than `timeout_ms` (-1: no
    /// timer is due); true when it found some.
    bool spin_for_work(int timeout_ms);
    template <class T>
    T& install_slot(T channel);

    EngineState& engine_;
    const SocketSettings settings_;                   ///< from the engine's options
    std::vector<std::unique_ptr<Channel>> channels_;  ///< by channel number
    ChannelTimers timers_;
    std::vector<ReceiveQueue*> delivery_list_;  ///< groups with pending deliveries
    /// Posted messages taken from the inbox and not yet handled, oldest first.
    MessageQueue posted_;
    std::uint32_t next_serial_ = 0;  ///< the serial of the next channel installed
    Resolver resolver_;
    std::vector<Resolver::Done> lookups_;  ///< finished lookups being handed out (kept: no allocation)
    std::optional<Clock::time_point> relief_due_;  ///< when the dry pool's relief looks again

    // The parts; the driver last, so it is made when the others are ready to take events.
    ReadTargets targets_;
    Acceptor acceptor_;
    Receiver receiver_;
    Sender sender_;
    Confirmations confirmations_;
    Connector connector_;
    IoDriver io_;
};

}  // namespace tofu::detail

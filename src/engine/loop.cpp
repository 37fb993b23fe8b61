#include "engine/loop.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>
#include <utility>

#include "engine/channel_budget.hpp"
#include "engine/deadline.hpp"
#include "message/message_access.hpp"
#include "message/reserved_headers.hpp"
#include "shared/app_timers.hpp"
#include "shared/engine_state.hpp"
#include "shared/receive_queue.hpp"

namespace tofu::detail {
namespace {

/// How long a connection that answered ByeResponse waits for the peer to close its end.
constexpr auto drain_limit = std::chrono::seconds{5};

}  // namespace

Loop::Loop(EngineState& engine)
    : engine_{engine},
      settings_{engine.options().dead_peer_timeout, engine.options().uds_file_mode},
      channels_(std::size_t{max_channel} + 1),
      resolver_{engine},
      targets_{engine},
      acceptor_{*this},
      receiver_{*this},
      sender_{*this},
      confirmations_{*this},
      connector_{*this},
      io_{*this} {}

Loop::~Loop() = default;

void Loop::run() noexcept {
    try {
        while (!engine_.stop_requested()) {
            take_inbox();
            take_lookups();
            sender_.flush_listed();
            if (engine_.take_memory_request()) {
                answer_memory();
            }
            deliver_pending();
            targets_.keep_report_spare();

            (void)engine_.take_timer_change();  // the deadline below is the newest
            int timeout = wait_timeout_ms();
            if (timeout != 0 && (work_waiting() || spin_for_work(timeout))) {
                timeout = 0;
            }
            if (timeout != 0) {
                targets_.return_spares(0);  // before sleeping: a waiting sender gets them
                receiver_.release_assemblies();
            }
            // Before a poll that may block, announce sleep, then look once more: a poster either
            // sees the engine asleep and writes to the notifier, or its message is seen here.
            // While the engine is awake posters make no syscall, and a poll that cannot block
            // announces nothing: the flag's line then stays in the posters' caches.
            if (timeout != 0) {
                engine_.announce_sleep();
                if (work_waiting()) {
                    timeout = 0;
                }
            }
            // I/O before posted messages: what the peer already said (a ByeResponse, its end of
            // the stream) is read before we write into a socket it may have closed.
            io_.run(timeout);
            const bool relieved = relieve_pool();
            if (engine_.take_refill() || relieved || receiver_.resume_owed()) {
                receiver_.resume_starved();
            }
            expire_timers();
            confirmations_.send_owed();
            // A read batch of spares stays for the next turns' reads, in this thread's cache: the
            // reads then rarely take from the pool (under its lock, messages another thread
            // returned). The rest go back in one batch.
            targets_.return_spares(targets_.kept());
        }
    } catch (const std::exception& e) {
        // Only resource exhaustion gets here (allocation, the poller itself failing): the engine
        // cannot go on, but it must still close everything and report.
        std::fprintf(stderr, "tofu engine stopped: %s\n", e.what());
    }
    shut_down();
}

// --- Posted messages ----------------------------------------------------------------------------

void Loop::take_inbox() {
    engine_.take_posted(posted_);
    while (MessagePtr m = posted_.pop_front()) {  // a close on the way may add to posted_
        on_posted(std::move(m));
    }
}

void Loop::take_inbox_closing(std::uint16_t number, const ReceiveQueue* group, MessageQueue& unsent) {
    engine_.take_claimed(posted_);  // every post past its check is in the inbox by now
    MessageQueue others;
    while (MessagePtr m = posted_.pop_front()) {
        const bool for_ch = m->bhdr.channel_number == number && MessageAccess::group_tag(*m) == group;
        (for_ch ? unsent : others).push_back(std::move(m));
    }
    posted_ = std::move(others);
}

void Loop::take_lookups() {
    if (!resolver_.has_done()) {
        return;
    }
    resolver_.take_done(lookups_);
    for (const Resolver::Done& done : lookups_) {
        Channel* ch = find(done.channel);
        if (ch == nullptr || endpoint(*ch).serial != done.serial) {
            continue;  // it closed while its name was looked up; the number may be another's now
        }
        if (auto* listener = std::get_if<Listener>(ch); listener != nullptr && listener->resolving()) {
            acceptor_.on_looked_up(*listener, done.result);
        } else if (auto* connection = std::get_if<Connection>(ch);
                   connection != nullptr && connection->state == Connection::State::resolving) {
            connector_.on_looked_up(*connection, done.result);
        }
    }
    lookups_.clear();
}

void Loop::on_posted(MessagePtr msg) {
    ReceiveQueue& group = *static_cast<ReceiveQueue*>(MessageAccess::group_tag(*msg));
    const OpCode op = msg->bhdr.proto.op_code;
    if (msg->bhdr.channel_number == EngineState::command_channel) {
        on_destroy_group(group);
        return;
    }
    if (op == OpCode::welcome_request) {
        acceptor_.open(group, std::move(msg));
        return;
    }
    if (op == OpCode::hello_request) {
        connector_.start(group, std::move(msg));
        return;
    }
    Channel* ch = find(msg->bhdr.channel_number);
    if (ch != nullptr && endpoint(*ch).group == &group && op == OpCode::bye_signal) {
        close(*ch, AmpeStatus::shutdown_started);
        return;
    }
    // `post` refuses anything but ByeSignal for a listener.
    auto* connection = ch != nullptr ? std::get_if<Connection>(ch) : nullptr;
    if (connection == nullptr || connection->group != &group) {
        // Not expected: a closing channel takes its posts from the inbox (report_closed). Kept so
        // that a message never vanishes.
        msg->bhdr.status = AmpeStatus::invalid_channel_number;
        msg->bhdr.proto.origin = Origin::engine;
        deliver(group, std::move(msg));
        return;
    }
    if (!msg->thdrs.empty()) {
        // `~` headers are the engine's (a delivered HelloRequest's `~peer`, say, answered as it came):
        // they never go on the wire.
        drop_reserved_headers(msg->thdrs);
    }
    sender_.enqueue(*connection, std::move(msg));
}

void Loop::on_destroy_group(ReceiveQueue& group) {
    for (auto& slot : channels_) {
        if (slot && endpoint(*slot).group == &group) {
            close(*slot, AmpeStatus::shutdown_started);
        }
    }
    (void)group.pending.take();  // nobody will read them: back to the pool
    {
        MessageQueue timers;  // back to the pool, after the timer table's lock
        engine_.timers().drop_group(&group, timers);
    }
    if (group.pending_listed) {
        std::erase(delivery_list_, &group);
        group.pending_listed = false;
    }
    group.acknowledge_destroy();
}

// --- Closing ------------------------------------------------------------------------------------

void Loop::close(Channel& ch, AmpeStatus reason) {
    if (auto* listener = std::get_if<Listener>(&ch)) {
        close(*listener, reason);
    } else {
        close(*std::get_if<Connection>(&ch), reason);
    }
}

void Loop::close(Connection& ch, AmpeStatus reason, std::string_view detail) {
    // An accepted connection whose TLS handshake failed never was a channel for the application:
    // its listener counts it and reports such failures at a bounded rate, instead of one report
    // each (a peer could make as many as it likes).
    const bool refused_handshake =
        ch.state == Connection::State::awaiting_hello && ch.stream->handshaking() &&
        reason != AmpeStatus::shutdown_started &&
        acceptor_.count_failed_handshake(ch, detail.empty() ? status_name(reason) : detail);
    Confirmations::confirm_before_closing(ch);
    // A send in flight (completion backend) reaches into the front of the queue, and the kernel
    // may read those messages until the channel's operations are cancelled: that comes first,
    // before they go back to the application or the pool (where anyone may write into them).
    const std::size_t in_flight = IoDriver::frames_sending(ch);
    io_.release(ch);
    report_closed(ch, reason, detail, in_flight, refused_handshake);
    forget(ch);
}

void Loop::close(Connection& ch, const SocketError& error) {
    // A stream's own failure (TLS) has words of its own; the socket's are the OS's.
    if (const std::string_view why = ch.stream->failure(); !why.empty()) {
        close(ch, error.status, why);
        return;
    }
    close(ch, error.status, os_error_text(error.os_error));
}

void Loop::close(Listener& listener, AmpeStatus reason, std::string_view detail, MessagePtr returned) {
    if (!returned) {
        returned = std::move(listener.welcome);  // closed while its host name was looked up
    }
    if (ReceiveQueue* group = std::exchange(listener.group, nullptr); group != nullptr) {
        engine_.owners().hand_to_engine(listener.number);  // posts from now on fail
        MessageQueue unsent;
        if (returned) {
            if (!detail.empty()) {  // says why, or is cut to fit
                (void)append_truncated(returned->thdrs, header::detail, detail);
            }
            unsent.push_back(std::move(returned));
        }
        take_inbox_closing(listener.number, group, unsent);
        while (MessagePtr m = unsent.pop_front()) {
            return_unsent(*group, listener.number, std::move(m), reason);
        }
        report_channel_closed(*group, listener.number, reason, detail);
    }
    forget(listener);
}

void Loop::close(Listener& listener, const SocketError& error, MessagePtr returned) {
    close(listener, error.status, os_error_text(error.os_error), std::move(returned));
}

void Loop::report_closed(Connection& ch, AmpeStatus reason, std::string_view detail, std::size_t in_flight,
                         bool quiet) {
    if (ch.group == nullptr) {
        return;
    }
    // Out of the group's reach first: posts from now on fail, and those already past their check
    // are in the inbox when this returns, so their messages come back here too.
    engine_.owners().hand_to_engine(ch.number);
    MessageQueue unsent = sender_.take_queue(ch);
    take_inbox_closing(ch.number, ch.group, unsent);
    if (quiet && unsent.empty()) {
        ch.group = nullptr;  // nothing to give back, and nothing to say: told another way
        return;
    }
    ch.report_pending = false;
    ReceiveQueue& group = *std::exchange(ch.group, nullptr);
    // Nothing is lost silently: every message the peer did not confirm, and every message not
    // written, comes back with the reason, in the order they were posted. After a graceful close
    // the reason is success, which a returned message must not claim.
    const AmpeStatus returned_status = reason == AmpeStatus::success ? AmpeStatus::send_failed : reason;
    // A HelloRequest still waiting for its HelloResponse comes back whole, as posted, and first
    // (the frame of it that went on the wire does not: it is dropped below and by the log).
    if (MessagePtr hello = std::move(ch.hello.request)) {
        if (!detail.empty()) {
            (void)append_truncated(hello->thdrs, header::detail, detail);  // says why, or is cut to fit
        }
        return_unsent(group, ch.number, std::move(hello), returned_status);
    }
    confirmations_.return_unconfirmed(ch, group, returned_status);
    // A send that was in flight (completion backend) may have written the frames it reached
    // into: they come back as the unconfirmed ones do, as their headers.
    while (MessagePtr m = unsent.pop_front()) {
        const bool maybe_written = in_flight != 0;
        in_flight -= maybe_written ? 1 : 0;
        if (Confirmations::take_home(ch, m) || Connector::is_wire_hello(*m)) {
            continue;  // the engine's own confirmation frame, or the HelloRequest's (back above)
        }
        if (maybe_written) {
            MessagePtr report = engine_.engine_message(OpCode::signal, returned_status, ch.number);
            Confirmations::make_unconfirmed(*report, ch.number, m->bhdr, returned_status);
            deliver(group, std::move(report));
            continue;
        }
        return_unsent(group, ch.number, std::move(m), returned_status);
    }
    report_channel_closed(group, ch.number, reason, detail);
}

void Loop::return_unsent(ReceiveQueue& group, std::uint16_t number, MessagePtr msg, AmpeStatus status) {
    msg->bhdr.status = status;
    msg->bhdr.proto.origin = Origin::engine;
    msg->bhdr.channel_number = number;
    deliver(group, std::move(msg));
}

void Loop::report_channel_closed(ReceiveQueue& group, std::uint16_t number, AmpeStatus reason,
                                 std::string_view detail) {
    MessagePtr closed = engine_.engine_message(OpCode::signal, AmpeStatus::channel_closed, number);
    (void)append_header(closed->thdrs, header::reason, status_name(reason));  // a fresh message: fits
    if (!detail.empty()) {
        append_truncated(closed->thdrs, header::detail, detail);
    }
    deliver(group, std::move(closed));
}

void Loop::on_connected(Connection& ch, const SocketError& result) {
    if (!result.ok()) {
        close(ch, result);
        return;
    }
    ch.state = Connection::State::open;
    io_.set_interest(ch, Trigger::recv);
    io_.flush(ch);
}

void Loop::start_draining(Connection& ch) {
    // Our ByeResponse is written: the channel is closed for the application, once the peer has
    // confirmed what we wrote before it (it confirms after reading our ByeResponse). The socket
    // stays a little longer so the peer reads the ByeResponse before our end goes away.
    if (Confirmations::awaited(ch)) {
        ch.report_pending = true;
    } else {
        report_closed(ch, AmpeStatus::success, {});
    }
    ch.stream->shutdown_send(ch.socket);
    ch.state = Connection::State::draining;
    if (!receiver_.drain(ch)) {
        return;
    }
    arm(ch, drain_limit);
    io_.set_interest(ch, Trigger::recv);
}

void Loop::finish_draining(Connection& ch) {
    if (ch.report_pending) {
        report_closed(ch, AmpeStatus::peer_disconnected,
                      "the peer left without confirming our last messages");
    }
    forget(ch);
}

void Loop::forget(Endpoint& ch) {
    io_.release(ch);
    if (auto* connection = std::get_if<Connection>(channels_[ch.number].get())) {
        connection->stream->send_last_words(ch.socket);  // TLS: an alert, or the session's end
    }
    ch.socket.close();  // SO_LINGER 0: the peer sees a reset, we never sit in TIME_WAIT
    if (auto* listener = std::get_if<Listener>(channels_[ch.number].get())) {
        listener->socket_file.remove();  // if the path still names the file it bound
    }
    const std::uint16_t number = ch.number;
    channels_[number].reset();
    engine_.owners().release(number);
}

// --- Timers --------------------------------------------------------------------------------------

void Loop::arm(Endpoint& ch, std::chrono::milliseconds after) {
    ch.deadline = deadline_after(Clock::now(), after);
    timers_.arm(ch.number, ch.deadline, [this](std::uint16_t number, Clock::time_point when) {
        const Channel* armed = find(number);
        return armed != nullptr && endpoint(*armed).deadline == when;
    });
}

void Loop::expire_timers() {
    const Clock::time_point now = Clock::now();
    timers_.expire(now, [this](std::uint16_t number, Clock::time_point when) {
        Channel* ch = find(number);
        if (ch == nullptr || endpoint(*ch).deadline != when) {
            return;  // the channel moved on, or is another one
        }
        endpoint(*ch).deadline = {};
        if (auto* listener = std::get_if<Listener>(ch)) {
            acceptor_.on_deadline(*listener);
        } else {
            on_deadline(*std::get_if<Connection>(ch));
        }
    });
    expire_app_timers(now);
}

void Loop::expire_app_timers(Clock::time_point now) {
    AppTimers& timers = engine_.timers();
    if (timers.earliest() > now) {
        return;  // one atomic load: no lock while no timer is due
    }
    MessageQueue due;
    timers.take_due(now, due);
    while (MessagePtr m = due.pop_front()) {
        // The group is alive: destroying it drops its timers first (on_destroy_group).
        ReceiveQueue& group = *static_cast<ReceiveQueue*>(MessageAccess::group_tag(*m));
        deliver(group, std::move(m));
    }
}

void Loop::on_deadline(Connection& ch) {
    switch (ch.state) {
        case Connection::State::awaiting_hello:
            if (ch.in.starved) {
                arm(ch,
                    engine_.options().handshake_timeout);  // its Hello may wait on our pool, not on the peer
                return;
            }
            close(ch, AmpeStatus::not_allowed,
                  "no HelloRequest within " + std::to_string(engine_.options().handshake_timeout.count()) +
                      " ms");
            return;
        case Connection::State::draining: finish_draining(ch); return;
        case Connection::State::open:
            if (!io_.on_deadline(ch) && !connector_.on_deadline(ch)) {
                sender_.on_stall_deadline(ch);
            }
            return;
        case Connection::State::resolving:
        case Connection::State::connecting: (void)connector_.on_deadline(ch); return;
    }
}

void Loop::shut_down() {
    engine_.stop_accepting_posts();
    {
        MessageQueue timers;  // nothing will fire them: back to the pool; later ones deliver at once
        engine_.timers().close(timers);
    }
    // Posted but never processed: back to their groups. Commands to let go of a group are honoured.
    const auto return_posted = [this] {
        engine_.take_claimed(posted_);
        while (MessagePtr m = posted_.pop_front()) {
            ReceiveQueue& group = *static_cast<ReceiveQueue*>(MessageAccess::group_tag(*m));
            if (m->bhdr.channel_number == EngineState::command_channel) {
                on_destroy_group(group);
                continue;
            }
            m->bhdr.status = AmpeStatus::shutdown_started;
            m->bhdr.proto.origin = Origin::engine;
            deliver(group, std::move(m));
        }
    };
    return_posted();
    for (auto& slot : channels_) {
        if (slot) {
            close(*slot, AmpeStatus::shutdown_started);
        }
    }
    deliver_pending();
    engine_.finish_loop();
    // Whatever slipped in before the loop was marked finished.
    return_posted();
    deliver_pending();
}

// --- Delivery and bookkeeping -------------------------------------------------------------------

void Loop::answer_memory() {
    EngineMemory counted;
    for (const auto& slot : channels_) {
        if (slot) {
            const std::size_t bytes = held_bytes(*slot);
            ++counted.channels;
            counted.channel_bytes += bytes;
            counted.largest_channel = std::max(counted.largest_channel, bytes);
        }
    }
    engine_.answer_memory(counted);
}

void Loop::deliver(ReceiveQueue& group, MessagePtr msg) {
    group.pending.push_back(std::move(msg));
    if (!group.pending_listed) {
        group.pending_listed = true;
        delivery_list_.push_back(&group);
    }
}

void Loop::deliver_pending() {
    for (ReceiveQueue* group : delivery_list_) {
        group->pending_listed = false;
        MessageQueue batch = group->pending.take();
        group->deliver(batch);
    }
    delivery_list_.clear();
}

Channel* Loop::find(std::uint16_t number) const noexcept {
    return number <= max_channel ? channels_[number].get() : nullptr;
}

Connection* Loop::connection(std::uint16_t number) const noexcept {
    Channel* ch = find(number);
    return ch != nullptr ? std::get_if<Connection>(ch) : nullptr;
}

template <class T>
T& Loop::install_slot(T channel) {
    channel.serial = next_serial_++;
    auto& slot = channels_[channel.number];
    slot = std::make_unique<Channel>(std::in_place_type<T>, std::move(channel));
    return *std::get_if<T>(slot.get());
}

Listener& Loop::install(Listener listener) {
    return install_slot(std::move(listener));
}

Connection& Loop::install(Connection connection) {
    return install_slot(std::move(connection));
}

bool Loop::work_waiting() const noexcept {
    return !posted_.empty() || engine_.work_waiting() || resolver_.has_done() || receiver_.resume_owed();
}

bool Loop::spin_for_work(int timeout_ms) {
    Clock::duration spin = engine_.options().idle_spin;
    if (timeout_ms >= 0) {
        spin = std::min<Clock::duration>(spin, std::chrono::milliseconds{timeout_ms});  // a timer is due
    }
    if (spin.count() <= 0) {
        return false;
    }
    const auto until = Clock::now() + spin;
    do {
        std::this_thread::yield();  // a thread with work to do (a poster, a receiver) goes first
        if (work_waiting() || io_.run(0) != 0) {
            return true;
        }
    } while (Clock::now() < until);
    return false;
}

bool Loop::relieve_pool() {
    // A dry pool: answers that wait for peers who take none of them give it messages back; and
    // while connections still starve, a look again when a peer that took nothing may be let go.
    const bool pressed = receiver_.take_pool_pressure();
    if (!pressed && !(relief_due_ && receiver_.starving() && Clock::now() >= *relief_due_)) {
        return false;
    }
    const Sender::Relief relief = sender_.relieve_pool(Clock::now());
    relief_due_ = relief.again;
    return relief.released;
}

int Loop::wait_timeout_ms() const {
    std::optional<Clock::time_point> earliest = timers_.earliest();
    if (relief_due_ && receiver_.starving() && (!earliest || *relief_due_ < *earliest)) {
        earliest = relief_due_;
    }
    if (const auto due = confirmations_.due(); due && (!earliest || *due < *earliest)) {
        earliest = due;
    }
    if (const auto app = engine_.timers().earliest();
        app != Clock::time_point::max() && (!earliest || app < *earliest)) {
        earliest = app;
    }
    if (!earliest) {
        return -1;
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*earliest - Clock::now());
    return static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(left.count(), 0, 60'000));
}

}  // namespace tofu::detail

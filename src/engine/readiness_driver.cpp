#include "engine/readiness_driver.hpp"

#include <algorithm>
#include <array>

#include "engine/channel_budget.hpp"
#include "engine/loop.hpp"
#include "shared/engine_state.hpp"

namespace tofu::detail {
namespace {

/// One read takes up to this much: many small frames per system call.
constexpr std::size_t read_buffer_size = max_read_size;
/// Reads per readiness event, at most (each fills the read buffer, or it is the last).
constexpr int max_reads_per_event = 4;
/// Accepts per readiness event, so one busy listener cannot starve the rest of the loop.
constexpr int max_accepts_per_event = 64;
/// The notifier's token: no channel has this number.
constexpr std::uint32_t notifier_token = internal_channel;

constexpr Triggers stream_triggers = Trigger::recv | Trigger::send;

Readiness readiness(Triggers t) noexcept {
    return {.readable = t.has(Trigger::recv), .writable = t.has(Trigger::send)};
}

/// `t` with its reading and writing replaced by `r`.
Triggers with(Triggers t, Readiness r) noexcept {
    t.remove(stream_triggers);
    if (r.readable) {
        t |= Trigger::recv;
    }
    if (r.writable) {
        t |= Trigger::send;
    }
    return t;
}

}  // namespace

ReadinessDriver::ReadinessDriver(Loop& loop)
    : loop_{loop},
      read_buffer_{std::make_unique_for_overwrite<std::byte[]>(read_buffer_size)},
      write_staging_{std::make_unique_for_overwrite<std::byte[]>(write_staging_size)} {
    poller_.add(loop.engine().notifier_fd(), notifier_token, Trigger::notify);
}

std::size_t ReadinessDriver::run(int timeout_ms) {
    // Input a stream holds is read this turn: no socket event will say it is there.
    const std::span<const PollEvent> events = poller_.wait(buffered_.empty() ? timeout_ms : 0);
    loop_.engine().mark_awake();
    for (const PollEvent& ev : events) {
        on_event(ev);
    }
    read_held_input();
    return events.size() + held_.size();
}

void ReadinessDriver::read_held_input() {
    held_.swap(buffered_);  // a connection that still holds input after its reads is listed anew
    for (const std::uint16_t number : held_) {
        if (Connection* ch = loop_.connection(number); ch != nullptr && ch->interest.has(Trigger::recv)) {
            on_readable(*ch);
        }
    }
    held_.clear();
}

void ReadinessDriver::note_held_input(Connection& ch) {
    // A stream with state (TLS) may hold input the socket will not signal again: what OpenSSL
    // read ahead, or read while a write finished its handshake.
    if (ch.stream->has_buffered_input() && ch.interest.has(Trigger::recv) &&
        std::ranges::find(buffered_, ch.number) == buffered_.end()) {
        buffered_.push_back(ch.number);
    }
}

void ReadinessDriver::on_event(const PollEvent& ev) {
    if (ev.token == notifier_token) {
        loop_.engine().drain_notifier();
        return;
    }
    Channel* ch = loop_.find(static_cast<std::uint16_t>(ev.token));
    if (ch == nullptr || ev.fired.empty()) {
        return;
    }
    if (auto* listener = std::get_if<Listener>(ch)) {
        if (ev.fired.has(Trigger::accept)) {
            on_accept(*listener);
        }
        return;
    }
    auto& conn = *std::get_if<Connection>(ch);
    switch (conn.state) {
        case Connection::State::resolving: return;  // no socket yet: not ours
        case Connection::State::connecting:
            loop_.on_connected(conn, ev.os_error != 0 ? SocketError{AmpeStatus::connect_failed, ev.os_error}
                                                      : finish_connect(conn.socket));
            return;
        case Connection::State::draining: on_drain_readable(conn); return;
        case Connection::State::awaiting_hello:
        case Connection::State::open: break;
    }
    // The stream says what the socket's readiness lets the connection do (a TLS stream may have to
    // write to read on, or the reverse).
    const Triggers fired = with(ev.fired, conn.stream->serves(readiness(ev.fired), readiness(conn.interest)));
    on_connection_event(conn, fired);
}

void ReadinessDriver::on_connection_event(Connection& ch, Triggers fired) {
    const std::uint16_t number = ch.number;
    if (fired.has(Trigger::send)) {
        flush(ch);
        if (!loop_.alive(ch, number)) {
            return;
        }
    }
    if (ch.interest.has(Trigger::recv)) {
        if (fired.any_of(Trigger::recv | Trigger::err)) {
            on_readable(ch);
            if (loop_.alive(ch, number)) {
                set_interest(ch, ch.interest);  // what the stream waits for may have changed (TLS)
            }
        }
    } else if (fired.has(Trigger::err)) {
        // Not read now (starved, paused, or its window shut), and the peer reset or hung up: what
        // it sent last is its own loss, and waiting to read it would hold this connection (and its
        // share of the pool) for nothing. (A starved or paused connection's stash must come before
        // anything the socket holds, so it is not read here.)
        loop_.close(ch, AmpeStatus::peer_disconnected, "the peer hung up while it was not being read");
    }
}

// --- Connecting and accepting -------------------------------------------------------------------

void ReadinessDriver::begin_connect(Connection& ch, const SocketAddress& where) {
    Socket connecting;
    bool in_progress = false;
    if (const SocketError e = start_connect(where, loop_.settings(), connecting, in_progress); !e.ok()) {
        loop_.close(ch, e);
        return;
    }
    ch.socket = std::move(connecting);
    if (in_progress) {
        set_interest(ch, Trigger::connect);
    } else {
        loop_.on_connected(ch, {});
    }
}

void ReadinessDriver::on_accept(Listener& listener) {
    for (int i = 0; i < max_accepts_per_event; ++i) {
        Socket accepted;
        if (const SocketError e = accept_one(listener.socket, loop_.settings(), accepted); !e.ok()) {
            loop_.acceptor().rest(listener, e.os_error);
            return;
        }
        if (!accepted.valid()) {
            return;  // nothing pending
        }
        loop_.acceptor().adopt(listener, std::move(accepted));
    }
}

// --- Reading ------------------------------------------------------------------------------------

void ReadinessDriver::on_readable(Connection& ch) {
    // A few reads in a row while the socket keeps filling the buffer: bigger deliveries, so the
    // receiving thread is woken once for more messages. Bounded, so one busy connection cannot
    // hold up the others.
    const std::uint16_t number = ch.number;
    for (int i = 0; i < max_reads_per_event && read_once(ch, i == 0); ++i) {
    }
    if (loop_.alive(ch, number)) {
        note_held_input(ch);
    }
}

bool ReadinessDriver::read_once(Connection& ch, bool first) {
    if (!Receiver::may_read(ch)) {
        return read_ahead(ch);
    }
    const std::size_t asked = loop_.receiver().read_size(ch, first, read_buffer_size);
    if (asked == 0) {
        if (first) {
            take_confirmations_or_starve(ch);
        }
        return false;
    }
    const IoResult r = ch.stream->read(ch.socket, {read_buffer_.get(), asked});
    return loop_.receiver().on_read(ch, r, {read_buffer_.get(), asked}) && r.bytes == asked;
}

bool ReadinessDriver::read_ahead(Connection& ch) {
    const std::size_t asked = Receiver::read_ahead_size(ch, read_buffer_size);
    if (asked == 0) {
        Triggers want = ch.interest;
        set_interest(ch, want.remove(Trigger::recv));  // until it may decode again
        return false;
    }
    const IoResult r = ch.stream->read(ch.socket, {read_buffer_.get(), asked});
    return loop_.receiver().on_read_ahead(ch, r, {read_buffer_.get(), asked}) && r.bytes == asked;
}

void ReadinessDriver::take_confirmations_or_starve(Connection& ch) {
    // Peeked, so that a frame needing a message stays in the socket, where flow control holds
    // the peer back; only whole confirmations at the front are read.
    constexpr std::size_t peek_size = 64 * BinaryHeader::wire_size;
    IoResult peeked;
    std::size_t confirmations = 0;
    if (ch.confirms.mode != ConfirmState::Mode::off && !ch.in.decoder.mid_frame()) {
        peeked = ch.stream->peek(ch.socket, {read_buffer_.get(), peek_size});
        if (peeked.ended()) {
            (void)loop_.receiver().on_read(ch, peeked, {});  // the peer is gone: nothing more needs a message
            return;
        }
        if (peeked.would_block) {
            return;  // nothing waits (a TLS stream read again in case it held more): no need to starve
        }
        const std::span<const std::byte> waiting{read_buffer_.get(), peeked.bytes};
        while (
            (confirmations + 1) * BinaryHeader::wire_size <= waiting.size() &&
            is_confirmation(
                waiting.subspan(confirmations * BinaryHeader::wire_size).first<BinaryHeader::wire_size>())) {
            ++confirmations;
        }
    }
    if (confirmations != 0) {
        const std::uint16_t number = ch.number;
        const std::span<std::byte> frames{read_buffer_.get(), confirmations * BinaryHeader::wire_size};
        (void)loop_.receiver().on_read(ch, ch.stream->read(ch.socket, frames), frames);
        if (!loop_.alive(ch, number) || frames.size() == peeked.bytes) {
            return;  // closed (a bad confirmation), or nothing else was waiting
        }
    }
    loop_.receiver().starve(ch, {});
}

void ReadinessDriver::on_drain_readable(Connection& ch) {
    if (ch.report_pending) {
        on_readable(ch);  // decoded: the peer's last confirmation completes the close
        return;
    }
    // The application already saw the channel close; read and drop until the peer's end arrives.
    const IoResult r = ch.stream->read(ch.socket, {read_buffer_.get(), read_buffer_size});
    if (r.ended()) {
        loop_.finish_draining(ch);
    }
}

// --- Writing ------------------------------------------------------------------------------------

void ReadinessDriver::flush(Connection& ch) {
    if (!ch.connected() || ch.state == Connection::State::draining) {
        return;  // sent once connected; nothing more after our ByeResponse
    }
    Sender& sender = loop_.sender();
    if (ch.out.queue.empty() && ch.stream->has_output()) {
        // The stream's own bytes (TLS records the socket did not take, its handshake).
        if (const IoResult r = ch.stream->write(ch.socket, {}); !r.error.ok()) {
            write_failed(ch, r.error);
            return;
        }
    }
    loop_.confirmations().piggyback(ch);
    std::array<native::IoSlice, max_parts_per_write> iov{};
    while (!ch.out.queue.empty()) {
        // As many queued frames as fit (and the peer's window allows) go into one vectored write.
        const Gathered g =
            Sender::gather(ch, iov, sender.window(ch), {write_staging_.get(), write_staging_size});
        if (g.frames == 0) {
            sender.shut_window(ch);  // a confirmation opens it (and lists the connection for writing)
            break;
        }
        const IoResult r = ch.stream->write(ch.socket, {iov.data(), g.parts});
        if (!r.error.ok()) {
            write_failed(ch, r.error);
            return;
        }
        if (r.would_block) {
            break;
        }
        if (!sender.retire(ch, r.bytes)) {
            return;
        }
        if (r.bytes < g.bytes) {
            break;  // the socket buffer is full: wait for room instead of a write that would fail
        }
    }
    Triggers want = ch.interest;
    if ((ch.out.queue.empty() || ch.out.window_shut) && !ch.stream->has_output()) {
        want.remove(Trigger::send);  // nothing to write, or nothing it may write: no writability to wait for
    } else {
        want |= Trigger::send;
        sender.watch_stall(ch);  // the socket is full: the peer is not reading as fast as we write
    }
    set_interest(ch, want);
    note_held_input(ch);
}

void ReadinessDriver::write_failed(Connection& ch, const SocketError& error) {
    const std::uint16_t number = ch.number;
    if (ch.interest.has(Trigger::recv)) {
        on_readable(ch);
    }
    if (loop_.alive(ch, number)) {
        loop_.close(ch, error);
    }
}

// --- Interest -----------------------------------------------------------------------------------

void ReadinessDriver::set_interest(Connection& ch, Triggers interest) {
    // A connection that waits for nothing (starved, paused, its window shut) stays registered for
    // errors alone where the backend can: a peer that resets it meanwhile is noticed at once.
    Triggers registered = with(interest, ch.stream->needs(readiness(interest)));
    if (registered.empty() && Poller::watches_errors_alone) {
        registered = Trigger::err;
    }
    watch(ch, interest, registered);
}

void ReadinessDriver::set_interest(Listener& listener, Triggers interest) {
    // A listener at rest waits for nothing at all (not even error reports: no busy loop).
    watch(listener, interest, interest);
}

void ReadinessDriver::watch(Endpoint& ch, Triggers interest, Triggers registered) {
    if (registered.empty()) {
        if (ch.io.registered) {
            poller_.remove(ch.socket.fd());
            ch.io.registered = false;
        }
    } else if (!ch.io.registered) {
        poller_.add(ch.socket.fd(), ch.number, registered);
        ch.io.registered = true;
    } else if (registered != ch.io.watched) {
        poller_.modify(ch.socket.fd(), ch.number, registered);
    }
    ch.io.watched = registered;
    ch.interest = interest;
}

void ReadinessDriver::release(Endpoint& ch) noexcept {
    if (ch.io.registered) {
        poller_.remove(ch.socket.fd());
        ch.io.registered = false;
    }
}

}  // namespace tofu::detail

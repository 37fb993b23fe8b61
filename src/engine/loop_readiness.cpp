// The loop's I/O on a readiness backend (epoll, kqueue, poll): the poller says a socket is ready,
// and the loop makes the system call itself.
#include <array>

#include "engine/channel_budget.hpp"
#include "engine/engine_core.hpp"
#include "engine/loop.hpp"

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

}  // namespace

void Loop::start_io() {
    read_buffer_ = std::make_unique_for_overwrite<std::byte[]>(read_buffer_size);
    write_staging_ = std::make_unique_for_overwrite<std::byte[]>(write_staging_size);
    poller_.add(core_.notifier_.fd(), notifier_token, Trigger::notify);
}

std::size_t Loop::run_io(int timeout_ms) {
    const std::span<const PollEvent> events = poller_.wait(timeout_ms);
    core_.mark_awake();
    for (const PollEvent& ev : events) {
        on_event(ev);
    }
    return events.size();
}

void Loop::on_event(const PollEvent& ev) {
    if (ev.token == notifier_token) {
        core_.notifier_.drain();
        return;
    }
    Channel* ch = find(static_cast<std::uint16_t>(ev.token));
    if (ch == nullptr || ev.fired.empty()) {
        return;
    }
    switch (ch->state) {
        case Channel::State::listening:
            if (ev.fired.has(Trigger::accept)) {
                on_accept(*ch);
            }
            return;
        case Channel::State::connecting:
            on_connected(*ch, ev.os_error != 0 ? SocketError{AmpeStatus::connect_failed, ev.os_error}
                                               : finish_connect(ch->socket));
            return;
        case Channel::State::draining: on_drain_readable(*ch); return;
        case Channel::State::awaiting_hello:
        case Channel::State::open: break;
    }
    const std::uint16_t number = ch->number;
    if (ev.fired.has(Trigger::send)) {
        flush(*ch);
        ch = find(number);
    }
    if (ch == nullptr) {
        return;
    }
    if (ch->interest.has(Trigger::recv)) {
        if (ev.fired.any_of(Trigger::recv | Trigger::err)) {
            on_readable(*ch);
        }
    } else if (ev.fired.has(Trigger::err)) {
        // Not read now (starved, paused, or its window shut), and the peer reset or hung up: what
        // it sent last is its own loss, and waiting to read it would hold this channel (and its
        // share of the pool) for nothing. (A starved or paused channel's stash must come before
        // anything the socket holds, so it is not read here.)
        close(*ch, AmpeStatus::peer_disconnected, "the peer hung up while it was not being read");
    }
}

void Loop::begin_connect(Channel& ch, const SocketAddress& where) {
    Socket connecting;
    bool in_progress = false;
    if (const SocketError e = start_connect(where, settings_, connecting, in_progress); !e.ok()) {
        close(ch, e);
        return;
    }
    ch.socket = std::move(connecting);
    if (in_progress) {
        set_interest(ch, Trigger::connect);
    } else {
        on_connected(ch, {});
    }
}

void Loop::on_accept(Channel& listener) {
    for (int i = 0; i < max_accepts_per_event; ++i) {
        Socket accepted;
        if (const SocketError e = accept_one(listener.socket, settings_, accepted); !e.ok()) {
            pause_accepting(listener, e.os_error);
            return;
        }
        if (!accepted.valid()) {
            return;  // nothing pending
        }
        adopt(listener, std::move(accepted));
    }
}

void Loop::on_readable(Channel& ch) {
    // A few reads in a row while the socket keeps filling the buffer: bigger deliveries, so the
    // receiving thread is woken once for more messages. Bounded, so one busy channel cannot hold
    // up the others.
    for (int i = 0; i < max_reads_per_event && read_once(ch, i == 0); ++i) {
    }
}

bool Loop::read_once(Channel& ch, bool first) {
    const std::size_t asked = read_size(ch, first, read_buffer_size);
    if (asked == 0) {
        if (first) {
            take_confirmations_or_starve(ch);
        }
        return false;
    }
    const IoResult r = read_some(ch.socket, {read_buffer_.get(), asked});
    return on_read(ch, r, {read_buffer_.get(), asked}) && r.bytes == asked;
}

void Loop::take_confirmations_or_starve(Channel& ch) {
    // Peeked, so that a frame needing a message stays in the socket, where flow control holds
    // the peer back; only whole confirmations at the front are read.
    constexpr std::size_t peek_size = 64 * BinaryHeader::wire_size;
    IoResult peeked;
    std::size_t confirmations = 0;
    if (ch.confirming != Channel::Confirming::off && !ch.decoder.mid_frame()) {
        peeked = peek_some(ch.socket, {read_buffer_.get(), peek_size});
        if (peeked.ended()) {
            (void)on_read(ch, peeked, {});  // the peer is gone: nothing more needs a message
            return;
        }
        const std::span<const std::byte> waiting{read_buffer_.get(), peeked.bytes};
        while (
            (confirmations + 1) * BinaryHeader::wire_size <= waiting.size() &&
            is_confirmation(BinaryHeader::decode(
                waiting.subspan(confirmations * BinaryHeader::wire_size).first<BinaryHeader::wire_size>()))) {
            ++confirmations;
        }
    }
    if (confirmations != 0) {
        const std::uint16_t number = ch.number;
        const std::span<std::byte> frames{read_buffer_.get(), confirmations * BinaryHeader::wire_size};
        (void)on_read(ch, read_some(ch.socket, frames), frames);
        if (find(number) != &ch || frames.size() == peeked.bytes) {
            return;  // closed (a bad confirmation), or nothing else was waiting
        }
    }
    starve(ch, {});
}

void Loop::on_drain_readable(Channel& ch) {
    if (ch.report_pending) {
        on_readable(ch);  // decoded: the peer's last confirmation completes the close
        return;
    }
    // The application already saw the channel close; read and drop until the peer's end arrives.
    const IoResult r = read_some(ch.socket, {read_buffer_.get(), read_buffer_size});
    if (r.ended()) {
        finish_draining(ch);
    }
}

void Loop::flush(Channel& ch) {
    if (ch.state == Channel::State::connecting || ch.state == Channel::State::draining) {
        return;  // sent once connected; nothing more after our ByeResponse
    }
    piggyback_confirmation(ch);
    std::array<native::IoSlice, max_parts_per_write> iov{};
    while (!ch.send_queue.empty()) {
        // As many queued frames as fit (and the peer's window allows) go into one vectored write.
        const Gathered g = gather(ch, iov, window(ch), {write_staging_.get(), write_staging_size});
        if (g.frames == 0) {
            shut_window(ch);  // a confirmation opens it (and lists the channel for writing)
            break;
        }
        const IoResult r = write_vectored(ch.socket, {iov.data(), g.parts});
        if (!r.error.ok()) {
            write_failed(ch, r.error);
            return;
        }
        if (r.would_block) {
            break;
        }
        if (!retire(ch, r.bytes)) {
            return;
        }
        if (r.bytes < g.bytes) {
            break;  // the socket buffer is full: wait for room instead of a write that would fail
        }
    }
    Triggers want = ch.interest;
    if (ch.send_queue.empty() || ch.window_shut) {
        want.remove(Trigger::send);  // nothing to write, or nothing it may write: no writability to wait for
    } else {
        want |= Trigger::send;
        watch_stall(ch);  // the socket is full: the peer is not reading as fast as we write
    }
    set_interest(ch, want);
}

void Loop::write_failed(Channel& ch, const SocketError& error) {
    const std::uint16_t number = ch.number;
    if (ch.interest.has(Trigger::recv)) {
        on_readable(ch);
    }
    if (find(number) == &ch) {
        close(ch, error);
    }
}

void Loop::set_interest(Channel& ch, Triggers interest) {
    // A connection that waits for nothing (starved, paused, its window shut) stays registered for
    // errors alone where the backend can: a peer that resets it meanwhile is noticed at once. A
    // listener at rest waits for nothing at all (not even error reports: no busy loop).
    const bool errors_alone = Poller::watches_errors_alone && ch.kind == Channel::Kind::io;
    const Triggers registered = interest.empty() && errors_alone ? Triggers{Trigger::err} : interest;
    if (registered.empty()) {
        if (ch.registered) {
            poller_.remove(ch.socket.fd());
            ch.registered = false;
        }
    } else if (!ch.registered) {
        poller_.add(ch.socket.fd(), ch.number, registered);
        ch.registered = true;
    } else if (interest != ch.interest) {
        poller_.modify(ch.socket.fd(), ch.number, registered);
    }
    ch.interest = interest;
}

bool Loop::sending(const Channel& /*ch*/) noexcept {
    return false;  // writes happen in the loop's own calls: none is ever pending
}

void Loop::release_io(Channel& ch) noexcept {
    if (ch.registered) {
        poller_.remove(ch.socket.fd());
    }
}

}  // namespace tofu::detail

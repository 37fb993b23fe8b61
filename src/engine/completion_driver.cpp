#include "engine/completion_driver.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <utility>

#include <unistd.h>

#include "engine/loop.hpp"
#include "shared/engine_state.hpp"

namespace tofu::detail {
namespace {

constexpr unsigned number_bits = 16;
constexpr std::uint64_t notifier_tag = 0;  // the notifier's completions carry no channel
/// A receive submitted while the pool is dry takes this much: its bytes wait in the connection's
/// stash if the pool is still dry when they arrive.
constexpr std::size_t dry_pool_recv = 4096;
static_assert(max_frames_per_write <= UINT8_MAX, "IoState::frames_sending counts them");
/// How long one half of a broken connection waits for the other: after a write failed, the
/// receive in flight for the peer's last words; after the peer's end, the send in flight.
constexpr auto last_words_wait = std::chrono::milliseconds{100};

}  // namespace

CompletionDriver::CompletionDriver(Loop& loop) : loop_{loop} {
    poller_.watch(loop.engine().notifier_fd(), notifier_tag);
}

std::size_t CompletionDriver::run(int timeout_ms) {
    const std::span<const Completion> done = poller_.wait(timeout_ms);
    loop_.engine().mark_awake();
    for (const Completion& c : done) {
        on_completion(c);
    }
    return done.size();
}

std::uint64_t CompletionDriver::tag_of(const Endpoint& ch) noexcept {
    return (std::uint64_t{ch.serial} << number_bits) | ch.number;
}

Channel* CompletionDriver::live(std::uint64_t tag) const noexcept {
    Channel* ch = loop_.find(static_cast<std::uint16_t>(tag));
    return ch != nullptr && endpoint(*ch).serial == static_cast<std::uint32_t>(tag >> number_bits) ? ch
                                                                                                   : nullptr;
}

void CompletionDriver::on_completion(const Completion& c) {
    Channel* ch = c.op == IoOp::notify || c.op == IoOp::send ? nullptr : live(c.tag);
    switch (c.op) {
        case IoOp::notify:
            loop_.engine().drain_notifier();
            if (!c.more) {
                poller_.watch(loop_.engine().notifier_fd(),
                              notifier_tag);  // the kernel ended the watch: renew it
            }
            return;
        case IoOp::send: on_write_done(c); return;
        case IoOp::accept: on_accept_done(ch != nullptr ? std::get_if<Listener>(ch) : nullptr, c); return;
        case IoOp::connect:
            if (auto* conn = ch != nullptr ? std::get_if<Connection>(ch) : nullptr) {
                conn->interest.remove(Trigger::connect);
                loop_.on_connected(*conn, c.result < 0 ? connect_failure(-c.result) : SocketError{});
            }
            return;
        case IoOp::recv:
            if (auto* conn = ch != nullptr ? std::get_if<Connection>(ch) : nullptr) {
                on_read_done(*conn, c);
            }
            return;
    }
}

// --- Connecting and accepting -------------------------------------------------------------------

void CompletionDriver::begin_connect(Connection& ch, const SocketAddress& where) {
    Socket connecting;
    if (const SocketError e = open_connecting(where, loop_.settings(), connecting); !e.ok()) {
        loop_.close(ch, e);
        return;
    }
    ch.socket = std::move(connecting);
    poller_.connect(ch.socket.fd(), where, tag_of(ch));
    ch.interest |= Trigger::connect;
}

void CompletionDriver::start_accept(Listener& listener) {
    if (!listener.interest.has(Trigger::accept)) {
        poller_.accept(listener.socket.fd(), tag_of(listener));  // one submission, many connections
        listener.interest |= Trigger::accept;
    }
}

void CompletionDriver::on_accept_done(Listener* listener, const Completion& c) {
    if (listener == nullptr) {
        if (c.result >= 0) {
            ::close(c.result);  // accepted just before its listener closed
        }
        return;
    }
    if (!c.more) {
        listener->interest.remove(Trigger::accept);
    }
    if (c.result >= 0) {
        Socket accepted{c.result};
        if (const SocketError e = tune_accepted(accepted, loop_.settings()); !e.ok()) {
            loop_.acceptor().refuse(*listener, os_error_text(e.os_error));  // `accepted` resets as it goes
        } else {
            loop_.acceptor().adopt(*listener, std::move(accepted));
        }
    } else if (c.result != -ECANCELED && c.result != -EAGAIN && c.result != -EINTR &&
               c.result != -ECONNABORTED) {
        if (c.more) {
            poller_.cancel(listener->socket.fd());
        }
        loop_.acceptor().rest(*listener, -c.result);  // out of descriptors, say: rest, then accept again
        return;
    }
    if (!c.more && listener->deadline == Loop::Clock::time_point{}) {  // else it rests
        start_accept(*listener);
    }
}

// --- Reading ------------------------------------------------------------------------------------

void CompletionDriver::start_read(Connection& ch) {
    if (ch.interest.has(Trigger::recv)) {
        return;
    }
    std::size_t size = UringProactor::max_recv;
    if (!Receiver::may_read(ch)) {
        // Only to read ahead for confirmations, if its window is shut.
        size = Receiver::read_ahead_size(ch, UringProactor::max_recv);
        if (size == 0) {
            return;
        }
    } else if (ch.stream->output_backlogged()) {
        ch.io.read_waits_for_send = true;  // a peer that asks for answers and reads none is read no more
        return;
    } else if (ch.state != Connection::State::draining) {
        // Sized by what the pool holds now. A dry pool does not stop the receive: nothing may
        // arrive for a long time, and the pool may be full again by then. A connection starves
        // only when bytes arrive that no message can take.
        size = std::max(loop_.receiver().read_size(ch, false, UringProactor::max_recv), dry_pool_recv);
    }
    poller_.recv(ch.socket.fd(), size, tag_of(ch));
    ch.interest |= Trigger::recv;
}

void CompletionDriver::on_read_done(Connection& ch, const Completion& c) {
    ch.interest.remove(Trigger::recv);
    if (c.result == -ENOBUFS) {
        start_read(ch);  // every receive buffer was lent out: they come back before the next wait
        return;
    }
    const IoResult r = read_result(c.result, -c.result);
    if (r.would_block) {
        start_read(ch);
        return;
    }
    if (r.ended() && sending(ch)) {
        on_peer_end(ch, r);
        return;
    }
    const std::uint16_t number = ch.number;
    const std::span<const std::byte> data = ch.stream->absorb(c.data.first(r.bytes));
    IoResult got = r.ended() ? ch.stream->at_end(r) : r;
    got.bytes = data.size();
    if (const SocketError e = ch.stream->absorb_error(); !e.ok()) {
        // The stream failed (TLS: a bad record, a failed handshake): what it decrypted before
        // that is read, then the connection closes with its words.
        if (!data.empty()) {
            (void)loop_.receiver().on_read(ch, got, data);
        }
        if (loop_.alive(ch, number)) {
            loop_.close(ch, e);
        }
        return;
    }
    if (!got.ended() && ch.stream->absorbed_end()) {
        // The stream ended with these bytes (TLS: a close_notify): they are read, then the end,
        // as if the socket had ended after them.
        if (!data.empty()) {
            (void)loop_.receiver().on_read(ch, got, data);
        }
        if (loop_.alive(ch, number)) {
            IoResult end;
            end.end_of_stream = true;
            on_peer_end(ch, end);
        }
        return;
    }
    on_input(ch, got, data);
    if (loop_.alive(ch, number) && (ch.stream->has_output() || !ch.out.queue.empty())) {
        // What it received made the stream answer (a handshake, a key update), or lets it write
        // what waited for its handshake.
        flush(ch);
    }
}

void CompletionDriver::on_peer_end(Connection& ch, const IoResult& end) {
    if (sending(ch)) {
        // Closing now would cancel the send, leaving an unknown part of it written, and nothing
        // could follow it: not even the confirmation that tells the peer what we received. So the
        // send completes first (or a timer gives up on it).
        ch.io.peer_end = end;
        loop_.arm(ch, last_words_wait);
        return;
    }
    on_input(ch, end, {});
}

void CompletionDriver::read_buffered(Connection& ch) {
    const std::span<const std::byte> held = ch.stream->absorb({});
    IoResult r;
    r.bytes = held.size();
    on_input(ch, r, held);
}

void CompletionDriver::on_input(Connection& ch, const IoResult& r, std::span<const std::byte> data) {
    if (ch.state == Connection::State::draining && !ch.report_pending) {
        // The application already saw the channel close; drop what arrives until the peer's end.
        if (r.ended()) {
            loop_.finish_draining(ch);
        } else {
            start_read(ch);
        }
        return;
    }
    if (!Receiver::keeps_input(ch)) {
        loop_.targets().take(ch, UringProactor::max_recv);  // messages to decode into, in one batch
    }
    const std::uint16_t number = ch.number;
    const bool more = loop_.receiver().on_read(ch, r, data);
    if (!loop_.alive(ch, number)) {
        return;
    }
    if (!ch.io.write_error.ok()) {
        loop_.close(ch, ch.io.write_error);  // the peer's last words are heard: the write's failure ends it
    } else if (more || ch.state == Connection::State::draining) {
        start_read(ch);  // draining reads on until the peer's end
    }
}

// --- Writing ------------------------------------------------------------------------------------

void CompletionDriver::flush(Connection& ch) {
    if (!ch.connected() || ch.state == Connection::State::draining || ch.interest.has(Trigger::send) ||
        (ch.out.queue.empty() && !ch.stream->has_output()) || !ch.io.write_error.ok()) {
        return;  // not yet, not any more, or its send in flight flushes again when done
    }
    Sender& sender = loop_.sender();
    loop_.confirmations().piggyback(ch);
    const std::uint32_t index = write_slots_.take();
    WriteSlot& slot = write_slots_[index];
    const Gathered g = Sender::gather(ch, slot.parts, sender.window(ch));
    if (g.frames == 0 && !ch.out.queue.empty()) {
        sender.shut_window(ch);  // a confirmation opens it (and lists the connection for writing)
    }
    if (g.frames == 0 && !ch.stream->has_output()) {
        write_slots_.give_back(index);
        return;
    }
    const std::span<const native::IoSlice> sealed = ch.stream->seal({slot.parts.data(), g.parts});
    if (sealed.empty()) {
        write_slots_.give_back(index);  // the stream cannot take them yet (TLS: its handshake is not done)
        return;
    }
    slot.channel = ch.number;
    slot.serial = ch.serial;
    slot.header = msghdr{};
    slot.header.msg_iov = const_cast<iovec*>(sealed.data());  // NOLINT(cppcoreguidelines-pro-type-const-cast)
    slot.header.msg_iovlen = sealed.size();
    poller_.send(ch.socket.fd(), slot.header, index);
    ch.io.frames_sending = static_cast<std::uint8_t>(g.frames);
    ch.interest |= Trigger::send;
    sender.watch_stall(ch);  // a send to a peer that reads nothing never completes
}

void CompletionDriver::on_write_done(const Completion& c) {
    const auto index = static_cast<std::uint32_t>(c.tag);
    const WriteSlot& slot = write_slots_[index];
    Connection* ch = loop_.connection(slot.channel);
    const bool same = ch != nullptr && ch->serial == slot.serial;
    write_slots_.give_back(index);
    if (!same) {
        return;
    }
    ch->interest.remove(Trigger::send);
    IoResult r = write_result(c.result, -c.result);
    r.bytes = ch->stream->sent(r.bytes);
    Sender& sender = loop_.sender();
    if (ch->io.peer_end.ended()) {
        // The peer left while this send was in flight: account for what it wrote, then close.
        const IoResult end = std::exchange(ch->io.peer_end, {});
        const std::uint16_t number = ch->number;
        if (r.error.ok()) {
            (void)sender.retire(*ch, r.bytes);
        }
        if (loop_.alive(*ch, number)) {
            on_input(*ch, end, {});
        }
        return;
    }
    if (!r.error.ok()) {
        write_failed(*ch, r.error);
        return;
    }
    const std::uint16_t number = ch->number;
    if (sender.retire(*ch, r.bytes)) {
        flush(*ch);
    }
    if (loop_.alive(*ch, number) && std::exchange(ch->io.read_waits_for_send, false)) {
        flush(*ch);  // the answers the receive waits for, if the channel itself had nothing to send
        start_read(*ch);
    }
}

void CompletionDriver::write_failed(Connection& ch, const SocketError& error) {
    // The receive in flight brings what the peer said before it left; its completion closes the
    // connection. If it does not come soon (a peer that stopped reading but not writing), a timer does.
    if (!ch.interest.has(Trigger::recv)) {
        loop_.close(ch, error);
        return;
    }
    ch.io.write_error = error;
    loop_.arm(ch, last_words_wait);
}

bool CompletionDriver::on_deadline(Connection& ch) {
    if (!ch.io.write_error.ok()) {
        loop_.close(ch, ch.io.write_error);  // the peer's last words did not come
        return true;
    }
    if (ch.io.peer_end.ended()) {
        (void)loop_.receiver().on_read(ch, std::exchange(ch.io.peer_end, {}),
                                       {});  // the send did not complete
        return true;
    }
    return false;
}

// --- Interest -----------------------------------------------------------------------------------

void CompletionDriver::set_interest(Connection& ch, Triggers interest) {
    // Receiving is started here; what is in flight stays in flight until it completes (a starved
    // connection simply submits no next receive).
    if (interest.has(Trigger::recv)) {
        start_read(ch);
    }
}

void CompletionDriver::set_interest(Listener& listener, Triggers interest) {
    if (interest.has(Trigger::accept)) {
        start_accept(listener);
    }
}

bool CompletionDriver::sending(const Connection& ch) noexcept {
    return ch.interest.has(Trigger::send);
}

std::size_t CompletionDriver::frames_sending(const Connection& ch) noexcept {
    return sending(ch) ? ch.io.frames_sending : 0;
}

void CompletionDriver::release(Endpoint& ch) noexcept {
    if (!ch.interest.empty() && ch.socket.valid()) {
        poller_.cancel(ch.socket.fd());
    }
    ch.interest = {};
}

}  // namespace tofu::detail

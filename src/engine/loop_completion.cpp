// The loop's I/O on the completion backend (io_uring): the loop submits accepts, connects,
// receives and sends, and acts on each when the kernel reports it done. A channel's `interest`
// is the set of its operations in flight; only their completions take them away.
//
// A completion names its channel by number and serial, so one that arrives after the channel
// closed (or after its number went to a new channel) is recognised and dropped. Closing a channel
// cancels its operations synchronously: the kernel is done with its memory before the loop hands
// the channel's messages back.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <utility>

#include <unistd.h>

#include "engine/engine_core.hpp"
#include "engine/loop.hpp"

namespace tofu::detail {
namespace {

constexpr unsigned number_bits = 16;
constexpr std::uint64_t notifier_tag = 0;  // the notifier's completions carry no channel
/// A receive submitted while the pool is dry takes this much: its bytes wait in the channel's
/// stash if the pool is still dry when they arrive.
constexpr std::size_t dry_pool_recv = 4096;
static_assert(max_frames_per_write <= UINT8_MAX, "Channel::frames_sending counts them");
/// How long one half of a broken connection waits for the other: after a write failed, the
/// receive in flight for the peer's last words; after the peer's end, the send in flight.
constexpr auto last_words_wait = std::chrono::milliseconds{100};

}  // namespace

void Loop::start_io() {
    poller_.watch(core_.notifier_.fd(), notifier_tag);
}

std::size_t Loop::run_io(int timeout_ms) {
    const std::span<const Completion> done = poller_.wait(timeout_ms);
    core_.mark_awake();
    for (const Completion& c : done) {
        on_completion(c);
    }
    return done.size();
}

std::uint64_t Loop::tag_of(const Channel& ch) noexcept {
    return (std::uint64_t{ch.serial} << number_bits) | ch.number;
}

Channel* Loop::live(std::uint64_t tag) const noexcept {
    Channel* ch = find(static_cast<std::uint16_t>(tag));
    return ch != nullptr && ch->serial == static_cast<std::uint32_t>(tag >> number_bits) ? ch : nullptr;
}

void Loop::on_completion(const Completion& c) {
    switch (c.op) {
        case IoOp::notify:
            core_.notifier_.drain();
            if (!c.more) {
                poller_.watch(core_.notifier_.fd(), notifier_tag);  // the kernel ended the watch: renew it
            }
            return;
        case IoOp::send: on_write_done(c); return;
        case IoOp::accept: on_accept_done(live(c.tag), c); return;
        case IoOp::connect:
            if (Channel* ch = live(c.tag); ch != nullptr) {
                ch->interest.remove(Trigger::connect);
                on_connected(*ch, c.result < 0 ? connect_failure(-c.result) : SocketError{});
            }
            return;
        case IoOp::recv:
            if (Channel* ch = live(c.tag); ch != nullptr) {
                on_read_done(*ch, c);
            }
            return;
    }
}

// --- Connecting and accepting -------------------------------------------------------------------

void Loop::begin_connect(Channel& ch, const SocketAddress& where) {
    Socket connecting;
    if (const SocketError e = open_connecting(where, settings_, connecting); !e.ok()) {
        close(ch, e);
        return;
    }
    ch.socket = std::move(connecting);
    poller_.connect(ch.socket.fd(), where, tag_of(ch));
    ch.interest |= Trigger::connect;
}

void Loop::start_accept(Channel& listener) {
    if (!listener.interest.has(Trigger::accept)) {
        poller_.accept(listener.socket.fd(), tag_of(listener));  // one submission, many connections
        listener.interest |= Trigger::accept;
    }
}

void Loop::on_accept_done(Channel* listener, const Completion& c) {
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
        if (const SocketError e = tune_accepted(accepted, settings_); !e.ok()) {
            refuse(*listener, os_error_text(e.os_error));  // `accepted` resets the connection as it goes
        } else {
            adopt(*listener, std::move(accepted));
        }
    } else if (c.result != -ECANCELED && c.result != -EAGAIN && c.result != -EINTR &&
               c.result != -ECONNABORTED) {
        if (c.more) {
            poller_.cancel(listener->socket.fd());
        }
        pause_accepting(*listener, -c.result);  // out of descriptors, say: rest, then accept again
        return;
    }
    if (!c.more && listener->state == Channel::State::listening &&
        listener->deadline == Clock::time_point{}) {
        start_accept(*listener);
    }
}

// --- Reading ------------------------------------------------------------------------------------

void Loop::start_read(Channel& ch) {
    if (ch.interest.has(Trigger::recv) || !may_read(ch)) {
        return;
    }
    std::size_t size = UringProactor::max_recv;
    if (ch.state != Channel::State::draining) {
        // Sized by what the pool holds now. A dry pool does not stop the receive: nothing may
        // arrive for a long time, and the pool may be full again by then. A channel starves only
        // when bytes arrive that no message can take.
        size = std::max(read_size(ch, false, UringProactor::max_recv), dry_pool_recv);
    }
    poller_.recv(ch.socket.fd(), size, tag_of(ch));
    ch.interest |= Trigger::recv;
}

void Loop::on_read_done(Channel& ch, const Completion& c) {
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
        // Closing now would cancel the send, leaving an unknown part of it written, and nothing
        // could follow it: not even the confirmation that tells the peer what we received. So the
        // send completes first (or a timer gives up on it).
        ch.peer_end = r;
        arm(ch, last_words_wait);
        return;
    }
    on_input(ch, r, c.data);
}

void Loop::on_input(Channel& ch, const IoResult& r, std::span<const std::byte> data) {
    if (ch.state == Channel::State::draining && !ch.report_pending) {
        // The application already saw the channel close; drop what arrives until the peer's end.
        if (r.ended()) {
            finish_draining(ch);
        } else {
            start_read(ch);
        }
        return;
    }
    take_read_targets(ch, UringProactor::max_recv);  // messages to decode into, in one batch
    const std::uint16_t number = ch.number;
    const bool more = on_read(ch, r, data);
    if (find(number) != &ch) {
        return;
    }
    if (!ch.write_error.ok()) {
        close(ch, ch.write_error);  // the peer's last words are heard: the write's failure ends it
    } else if (more || ch.state == Channel::State::draining) {
        start_read(ch);  // draining reads on until the peer's end
    }
}

// --- Writing ------------------------------------------------------------------------------------

void Loop::flush(Channel& ch) {
    if (ch.state == Channel::State::connecting || ch.state == Channel::State::draining ||
        ch.interest.has(Trigger::send) || ch.send_queue.empty() || !ch.write_error.ok()) {
        return;  // not yet, not any more, or its send in flight flushes again when done
    }
    piggyback_confirmation(ch);
    const std::uint32_t index = write_slots_.take();
    WriteSlot& slot = write_slots_[index];
    const Gathered g = gather(ch, slot.parts, window(ch));
    if (g.frames == 0) {
        write_slots_.give_back(index);
        shut_window(ch);  // a confirmation opens it (and lists the channel for writing)
        return;
    }
    slot.channel = ch.number;
    slot.serial = ch.serial;
    slot.header = msghdr{};
    slot.header.msg_iov = slot.parts.data();
    slot.header.msg_iovlen = g.parts;
    poller_.send(ch.socket.fd(), slot.header, index);
    ch.frames_sending = static_cast<std::uint8_t>(g.frames);
    ch.interest |= Trigger::send;
    watch_stall(ch);  // a send to a peer that reads nothing never completes
}

void Loop::on_write_done(const Completion& c) {
    const auto index = static_cast<std::uint32_t>(c.tag);
    const WriteSlot& slot = write_slots_[index];
    Channel* ch = find(slot.channel);
    const bool same = ch != nullptr && ch->serial == slot.serial;
    write_slots_.give_back(index);
    if (!same) {
        return;
    }
    ch->interest.remove(Trigger::send);
    const IoResult r = write_result(c.result, -c.result);
    if (ch->peer_end.ended()) {
        // The peer left while this send was in flight: account for what it wrote, then close.
        const IoResult end = std::exchange(ch->peer_end, {});
        const std::uint16_t number = ch->number;
        if (r.error.ok()) {
            (void)retire(*ch, r.bytes);
        }
        if (find(number) == ch) {
            on_input(*ch, end, {});
        }
        return;
    }
    if (!r.error.ok()) {
        write_failed(*ch, r.error);
        return;
    }
    if (retire(*ch, r.bytes)) {
        flush(*ch);
    }
}

void Loop::write_failed(Channel& ch, const SocketError& error) {
    // The receive in flight brings what the peer said before it left; its completion closes the
    // channel. If it does not come soon (a peer that stopped reading but not writing), a timer does.
    if (!ch.interest.has(Trigger::recv)) {
        close(ch, error);
        return;
    }
    ch.write_error = error;
    arm(ch, last_words_wait);
}

// --- Interest -----------------------------------------------------------------------------------

void Loop::set_interest(Channel& ch, Triggers interest) {
    // Receiving and accepting are started here; what is in flight stays in flight until it
    // completes (a starved channel simply submits no next receive).
    if (interest.has(Trigger::recv)) {
        start_read(ch);
    }
    if (interest.has(Trigger::accept)) {
        start_accept(ch);
    }
}

bool Loop::sending(const Channel& ch) noexcept {
    return ch.interest.has(Trigger::send);
}

void Loop::release_io(Channel& ch) noexcept {
    if (!ch.interest.empty() && ch.socket.valid()) {
        poller_.cancel(ch.socket.fd());
    }
    ch.interest = {};
}

}  // namespace tofu::detail

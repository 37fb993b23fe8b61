#include "engine/confirmations.hpp"

#include <array>
#include <string>

#include "engine/loop.hpp"
#include "message/reserved_headers.hpp"
#include "shared/engine_state.hpp"

namespace tofu::detail {
namespace {

/// A connection that only receives confirms after this many frames...
constexpr std::uint64_t confirm_batch = 32;
/// ...and what it received since its last confirmation after this long at the latest.
constexpr auto confirm_delay = std::chrono::milliseconds{100};

constexpr std::string_view offer_value = "1";

using Mode = ConfirmState::Mode;

}  // namespace

// --- The offer ----------------------------------------------------------------------------------

void Confirmations::offer(Connection& ch, Message& hello) {
    // A Hello whose headers are full gets no offer (the connection simply does without).
    if (!append_header(hello.thdrs, confirm_header, offer_value)) {
        return;
    }
    make_confirmation(ch);
    ch.confirms.mode = Mode::offered;
    ch.in.decoder.accept_confirmations(true);
}

void Confirmations::take_offer(Connection& ch, const Message& hello) {
    if (hello.thdrs.find(confirm_header) != offer_value) {
        return;
    }
    make_confirmation(ch);
    ch.confirms.mode = Mode::on;
    ch.in.decoder.accept_confirmations(true);
    send(ch);  // our first frame: it tells the client we took the offer
}

void Confirmations::first_frame_read(Connection& ch) {
    if (ch.confirms.mode != Mode::offered) {
        return;
    }
    // The server's first frame was not a confirmation: it does not confirm, so what we write is
    // done with once written, as with any peer that does not confirm.
    ConfirmState& c = ch.confirms;
    c.mode = Mode::off;
    ch.in.decoder.accept_confirmations(false);
    c.unconfirmed.clear();
    c.confirmation.reset();
    c.confirmation_frame = nullptr;
}

void Confirmations::make_confirmation(Connection& ch) {
    ConfirmState& c = ch.confirms;
    c.confirmation = Message::create();
    c.confirmation_frame = c.confirmation.get();
    c.confirmation->bhdr.proto.op_code = confirmation_op;
    c.confirmation->bhdr.channel_number = ch.number;
}

// --- What the peer confirms ---------------------------------------------------------------------

bool Confirmations::on_confirmation(Connection& ch, std::uint64_t count) {
    ConfirmState& c = ch.confirms;
    if (c.mode == Mode::offered) {
        c.mode = Mode::on;  // the server took our offer
    }
    if (count < c.confirmed_out || count > c.frames_out) {
        loop_.close(ch, AmpeStatus::invalid_message,
                    "the peer confirmed " + std::to_string(count) + " frames after " +
                        std::to_string(c.confirmed_out) + ", of " + std::to_string(c.frames_out) +
                        " written");
        return false;
    }
    c.confirmed_out = count;
    c.unconfirmed.confirm(count);
    if (ch.report_pending && c.unconfirmed.empty()) {
        loop_.report_closed(ch, AmpeStatus::success, {});  // the peer has everything: the close is complete
    }
    loop_.sender().open_window(ch);
    return true;
}

void Confirmations::confirmed_by_bye_response(Connection& ch) {
    // A ByeResponse answering our ByeRequest says the peer read everything we wrote before it.
    // One the peer sent unasked confirms nothing: what we wrote meanwhile, it dropped unread.
    ConfirmState& c = ch.confirms;
    if (c.frames_before_bye != ConfirmState::no_bye && c.frames_before_bye > c.confirmed_out) {
        c.confirmed_out = c.frames_before_bye;
        c.unconfirmed.confirm(c.frames_before_bye);
    }
    if (ch.report_pending && c.unconfirmed.empty()) {
        loop_.report_closed(ch, AmpeStatus::success, {});
    }
}

bool Confirmations::awaited(const Connection& ch) noexcept {
    return ch.confirms.mode == Mode::on && !ch.confirms.unconfirmed.empty();
}

// --- What we write ------------------------------------------------------------------------------

void Confirmations::on_frame_written(Connection& ch, const Message& msg) {
    ConfirmState& c = ch.confirms;
    if (c.mode != Mode::off) {
        if (msg.bhdr.proto.type() == MessageType::regular) {
            c.unconfirmed.push_back(c.frames_out, msg.bhdr);
        } else if (msg.bhdr.proto.op_code == OpCode::bye_request) {
            c.frames_before_bye = c.frames_out;
        }
    }
    ++c.frames_out;
}

bool Confirmations::on_written(Connection& ch, MessagePtr& msg) {
    if (!take_home(ch, msg)) {
        return false;
    }
    if (ch.confirms.frames_in != ch.confirms.confirmed_in) {
        owe_later(ch);  // what arrived meanwhile is confirmed later
    }
    return true;
}

bool Confirmations::take_home(Connection& ch, MessagePtr& msg) noexcept {
    if (msg.get() != ch.confirms.confirmation_frame) {
        return false;
    }
    ch.confirms.confirmation = std::move(msg);
    return true;
}

// --- What we confirm ----------------------------------------------------------------------------

void Confirmations::owe(Connection& ch) {
    const ConfirmState& c = ch.confirms;
    if (c.mode != Mode::on || ch.state != Connection::State::open || c.frames_in == c.confirmed_in) {
        return;
    }
    if (c.frames_in - c.confirmed_in >= confirm_batch) {
        send(ch);
    } else {
        owe_later(ch);
    }
}

void Confirmations::send(Connection& ch) {
    if (queue(ch)) {
        loop_.sender().list_for_flush(ch);
    }
}

bool Confirmations::queue(Connection& ch) {
    ConfirmState& c = ch.confirms;
    if (!c.confirmation || IoDriver::sending(ch)) {
        // Queued already, or a send in flight covers the front of the queue: later (flush puts it
        // in front of what it writes next, or the owed list catches it).
        owe_later(ch);
        return false;
    }
    Message& frame = *c.confirmation;
    frame.bhdr.message_id = c.frames_in;
    encode_frame(frame);
    c.confirmed_in = c.frames_in;
    if (ch.out.head_written == 0) {
        ch.out.queue.push_front(std::move(c.confirmation));
    } else {
        ch.out.queue.insert_after_front(std::move(c.confirmation));  // never inside a frame
    }
    return true;
}

void Confirmations::owe_later(Connection& ch) {
    if (!ch.confirms.listed) {
        if (listed_.empty()) {
            due_ = Clock::now() + confirm_delay;
        }
        ch.confirms.listed = true;
        listed_.push_back(ch.number);
    }
}

void Confirmations::piggyback(Connection& ch) {
    const ConfirmState& c = ch.confirms;
    if (c.mode == Mode::on && c.frames_in != c.confirmed_in && c.confirmation && !ch.out.queue.empty()) {
        (void)queue(ch);  // the flush under way writes it
    }
}

void Confirmations::send_owed() {
    if (listed_.empty() || Clock::now() < due_) {
        return;
    }
    owed_.swap(listed_);  // a connection that must wait again is listed anew
    for (const std::uint16_t number : owed_) {
        Connection* ch = loop_.connection(number);
        if (ch != nullptr && ch->confirms.listed) {
            ch->confirms.listed = false;
            if (ch->confirms.mode == Mode::on && ch->state == Connection::State::open &&
                ch->confirms.frames_in != ch->confirms.confirmed_in) {
                send(*ch);
            }
        }
    }
    owed_.clear();
}

std::optional<Confirmations::Clock::time_point> Confirmations::due() const noexcept {
    return listed_.empty() ? std::nullopt : std::optional{due_};
}

void Confirmations::confirm_before_closing(Connection& ch) noexcept {
    // Best effort, one small write: the peer learns what arrived before our end goes away. Only
    // between frames, and never beside a send in flight.
    // A confirmation still queued (not home) was counted but never written: it is owed too.
    ConfirmState& c = ch.confirms;
    const bool owed = c.frames_in != c.confirmed_in || !c.confirmation;
    if (c.mode != Mode::on || ch.state != Connection::State::open || !owed || ch.out.head_written != 0 ||
        IoDriver::sending(ch) || !ch.socket.valid()) {
        return;
    }
    BinaryHeader h;
    h.channel_number = ch.number;
    h.proto.op_code = confirmation_op;
    h.message_id = c.frames_in;
    std::array<std::byte, BinaryHeader::wire_size> frame{};
    h.encode(frame);
    const std::array<native::IoSlice, 1> part{native::io_slice(frame.data(), frame.size())};
    (void)ch.stream->write(ch.socket, part);
    c.confirmed_in = c.frames_in;
}

// --- What never was confirmed -------------------------------------------------------------------

void Confirmations::return_unconfirmed(Connection& ch, ReceiveQueue& group, AmpeStatus status) {
    for (UnconfirmedLog& log = ch.confirms.unconfirmed; !log.empty(); log.pop_front()) {
        if (Connector::is_wire_hello_header(log.front().header)) {
            continue;  // unconfirmed, so no HelloResponse came: the HelloRequest came back whole
        }
        MessagePtr m = loop_.engine().engine_message(OpCode::signal, status, ch.number);
        make_unconfirmed(*m, ch.number, log.front().header, status);
        loop_.deliver(group, std::move(m));
    }
}

void Confirmations::make_unconfirmed(Message& m, std::uint16_t channel, const BinaryHeader& written,
                                     AmpeStatus status) {
    EngineState::stamp_engine_message(m, written.proto.op_code, status, channel);
    m.bhdr.message_id = written.message_id;
    m.bhdr.proto.more = written.proto.more;
    (void)append_header(m.thdrs, header::unconfirmed, offer_value);  // headers reset: fits
}

}  // namespace tofu::detail

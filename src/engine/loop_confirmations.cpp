// Delivery confirmations, for every backend: two tofu engines tell each other how many frames they
// have received, so that when a connection breaks each side knows which of the messages it wrote
// may never have arrived, and returns them (docs/engine.md, "Confirmations").
//
// The client offers them in its HelloRequest (`~confirm:1`); a server that takes the offer makes a
// confirmation its first frame, so the client knows from the first frame it reads. A confirmation
// rides in front of data the channel writes anyway; a channel that only receives sends one after
// every `confirm_batch` frames, and what is left after `confirm_delay` at the latest.
#include <array>
#include <string>

#include "engine/engine_core.hpp"
#include "engine/group.hpp"
#include "engine/loop.hpp"
#include "message/reserved_headers.hpp"

namespace tofu::detail {
namespace {

/// A channel that only receives confirms after this many frames...
constexpr std::uint64_t confirm_batch = 32;
/// ...and what it received since its last confirmation after this long at the latest.
constexpr auto confirm_delay = std::chrono::milliseconds{100};

constexpr std::string_view offer = "1";

}  // namespace

void Loop::offer_confirmations(Channel& ch, Message& hello) {
    // A Hello whose headers are full gets no offer (the channel simply does without).
    if (!append_header(hello.thdrs, confirm_header, offer)) {
        return;
    }
    make_confirmation(ch);
    ch.confirming = Channel::Confirming::offered;
    ch.decoder.accept_confirmations(true);
}

void Loop::take_confirmation_offer(Channel& ch, const Message& hello) {
    if (hello.thdrs.find(confirm_header) != offer) {
        return;
    }
    make_confirmation(ch);
    ch.confirming = Channel::Confirming::on;
    ch.decoder.accept_confirmations(true);
    send_confirmation(ch);  // our first frame: it tells the client we took the offer
}

void Loop::decline_confirmations(Channel& ch) {
    // The server's first frame was not a confirmation: it does not confirm, so what we write is
    // done with once written, as with any peer that does not confirm.
    ch.confirming = Channel::Confirming::off;
    ch.decoder.accept_confirmations(false);
    ch.unconfirmed.clear();
    ch.confirmation.reset();
    ch.confirmation_frame = nullptr;
}

void Loop::make_confirmation(Channel& ch) {
    ch.confirmation = Message::create();
    ch.confirmation_frame = ch.confirmation.get();
    ch.confirmation->bhdr.proto.op_code = confirmation_op;
    ch.confirmation->bhdr.channel_number = ch.number;
}

bool Loop::on_confirmation(Channel& ch, std::uint64_t count) {
    if (ch.confirming == Channel::Confirming::offered) {
        ch.confirming = Channel::Confirming::on;  // the server took our offer
    }
    if (count < ch.confirmed_out || count > ch.frames_out) {
        close(ch, AmpeStatus::invalid_message,
              "the peer confirmed " + std::to_string(count) + " frames after " +
                  std::to_string(ch.confirmed_out) + ", of " + std::to_string(ch.frames_out) + " written");
        return false;
    }
    ch.confirmed_out = count;
    ch.unconfirmed.confirm(count);
    if (ch.report_pending && ch.unconfirmed.empty()) {
        report_closed(ch, AmpeStatus::success, {});  // the peer has everything: the close is complete
    }
    open_window(ch);
    return true;
}

void Loop::confirmed_by_bye_response(Channel& ch) {
    // A ByeResponse answering our ByeRequest says the peer read everything we wrote before it.
    // One the peer sent unasked confirms nothing: what we wrote meanwhile, it dropped unread.
    if (ch.frames_before_bye != Channel::no_bye && ch.frames_before_bye > ch.confirmed_out) {
        ch.confirmed_out = ch.frames_before_bye;
        ch.unconfirmed.confirm(ch.frames_before_bye);
    }
    if (ch.report_pending && ch.unconfirmed.empty()) {
        report_closed(ch, AmpeStatus::success, {});
    }
}

void Loop::on_frame_written(Channel& ch, const Message& msg) {
    if (ch.confirming != Channel::Confirming::off) {
        if (msg.bhdr.proto.type() == MessageType::regular) {
            ch.unconfirmed.push_back(ch.frames_out, msg.bhdr);
        } else if (msg.bhdr.proto.op_code == OpCode::bye_request) {
            ch.frames_before_bye = ch.frames_out;
        }
    }
    ++ch.frames_out;
}

void Loop::owe_confirmation(Channel& ch) {
    if (ch.confirming != Channel::Confirming::on || ch.state != Channel::State::open ||
        ch.frames_in == ch.confirmed_in) {
        return;
    }
    if (ch.frames_in - ch.confirmed_in >= confirm_batch) {
        send_confirmation(ch);
    } else {
        owe_confirmation_later(ch);
    }
}

void Loop::send_confirmation(Channel& ch) {
    if (queue_confirmation(ch)) {
        list_for_flush(ch);
    }
}

bool Loop::queue_confirmation(Channel& ch) {
    if (!ch.confirmation || sending(ch)) {
        // Queued already, or a send in flight covers the front of the queue: later (flush puts it
        // in front of what it writes next, or the owed list catches it).
        owe_confirmation_later(ch);
        return false;
    }
    Message& c = *ch.confirmation;
    c.bhdr.message_id = ch.frames_in;
    encode_frame(c);
    ch.confirmed_in = ch.frames_in;
    if (ch.head_written == 0) {
        ch.send_queue.push_front(std::move(ch.confirmation));
    } else {
        ch.send_queue.insert_after_front(std::move(ch.confirmation));  // never inside a frame
    }
    return true;
}

void Loop::owe_confirmation_later(Channel& ch) {
    if (!ch.confirm_listed) {
        if (confirm_list_.empty()) {
            confirm_due_ = Clock::now() + confirm_delay;
        }
        ch.confirm_listed = true;
        confirm_list_.push_back(ch.number);
    }
}

void Loop::piggyback_confirmation(Channel& ch) {
    if (ch.confirming == Channel::Confirming::on && ch.frames_in != ch.confirmed_in && ch.confirmation &&
        !ch.send_queue.empty()) {
        (void)queue_confirmation(ch);  // the flush under way writes it
    }
}

void Loop::send_owed_confirmations() {
    if (confirm_list_.empty() || Clock::now() < confirm_due_) {
        return;
    }
    owed_.swap(confirm_list_);  // a channel that must wait again is listed anew
    for (const std::uint16_t number : owed_) {
        Channel* ch = find(number);
        if (ch != nullptr && ch->confirm_listed) {
            ch->confirm_listed = false;
            if (ch->confirming == Channel::Confirming::on && ch->state == Channel::State::open &&
                ch->frames_in != ch->confirmed_in) {
                send_confirmation(*ch);
            }
        }
    }
    owed_.clear();
}

void Loop::confirm_before_closing(Channel& ch) noexcept {
    // Best effort, one small write: the peer learns what arrived before our end goes away. Only
    // between frames, and never beside a send in flight.
    // A confirmation still queued (not home) was counted but never written: it is owed too.
    const bool owed = ch.frames_in != ch.confirmed_in || !ch.confirmation;
    if (ch.confirming != Channel::Confirming::on || ch.state != Channel::State::open || !owed ||
        ch.head_written != 0 || sending(ch) || !ch.socket.valid()) {
        return;
    }
    BinaryHeader h;
    h.channel_number = ch.number;
    h.proto.op_code = confirmation_op;
    h.message_id = ch.frames_in;
    std::array<std::byte, BinaryHeader::wire_size> frame{};
    h.encode(frame);
    const std::array<native::IoSlice, 1> part{native::io_slice(frame.data(), frame.size())};
    (void)write_vectored(ch.socket, part);
    ch.confirmed_in = ch.frames_in;
}

void Loop::return_unconfirmed(Channel& ch, Group& group, AmpeStatus status) {
    for (; !ch.unconfirmed.empty(); ch.unconfirmed.pop_front()) {
        MessagePtr m = core_.engine_message(OpCode::signal, status, ch.number);
        make_unconfirmed(*m, ch.number, ch.unconfirmed.front().header, status);
        deliver(group, std::move(m));
    }
}

void Loop::make_unconfirmed(Message& m, std::uint16_t channel, const BinaryHeader& written,
                            AmpeStatus status) {
    EngineCore::stamp_engine_message(m, written.proto.op_code, status, channel);
    m.bhdr.message_id = written.message_id;
    m.bhdr.proto.more = written.proto.more;
    (void)append_header(m.thdrs, header::unconfirmed, offer);  // headers reset: fits
}

}  // namespace tofu::detail

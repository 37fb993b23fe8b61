#include "engine/receiver.hpp"

#include <algorithm>
#include <string>
#include <string_view>

#include "engine/channel_budget.hpp"
#include "engine/loop.hpp"
#include "message/confirmations_ahead.hpp"
#include "message/message_access.hpp"
#include "message/reserved_headers.hpp"
#include "shared/receive_queue.hpp"

namespace tofu::detail {
namespace {

/// The smallest read, however few messages the pool has left.
constexpr std::size_t min_read = 4096;
/// A starved connection keeps a stash up to this capacity for next time (no allocation per starvation).
constexpr std::size_t max_kept_stash = std::size_t{16} * 1024;

}  // namespace

// --- Reading ------------------------------------------------------------------------------------

std::size_t Receiver::read_size(Connection& ch, bool first, std::size_t limit) {
    ReadTargets& targets = loop_.targets();
    std::size_t budget = targets.take(ch, limit);  // messages we may decode into
    if (ch.state == Connection::State::draining) {
        return limit;  // only the peer's last confirmation matters now; nothing waits on the pool
    }
    if (budget == 0 && !first) {
        return 0;  // the pool is dry: leave the rest for the next turn rather than starve now
    }
    if (budget == 0) {
        MessagePtr m = targets.next();
        if (!m) {
            return 0;  // read nothing we could not decode: the caller starves the connection
        }
        targets.recycle(std::move(m));
        budget = 1;
    }
    const std::size_t wanted = ch.in.average_frame == 0 ? limit : budget * ch.in.average_frame;
    return std::clamp(wanted, std::min(min_read, limit), limit);
}

bool Receiver::on_read(Connection& ch, const IoResult& r, std::span<const std::byte> data) {
    if (keeps_input(ch)) {
        return on_read_ahead(ch, r, data);  // (a receive in flight when it stopped decoding)
    }
    // The peer left? If it left inside a frame, that frame is dropped and the report says so.
    if (brought_nothing(ch, r, ch.in.decoder.mid_frame() ? "the stream ended inside a frame" : "")) {
        return false;
    }
    std::span<const std::byte> in = data.first(r.bytes);
    const std::uint16_t number = ch.number;
    const bool more = decode(ch, in);
    if (!loop_.alive(ch, number)) {
        return false;
    }
    loop_.confirmations().owe(ch);
    return more && !ch.in.starved;
}

bool Receiver::brought_nothing(Connection& ch, const IoResult& r, std::string_view end_detail) {
    if (r.would_block) {
        return true;
    }
    if (!r.error.ok()) {
        loop_.close(ch, r.error);
        return true;
    }
    if (r.end_of_stream) {
        loop_.close(ch, AmpeStatus::peer_disconnected, end_detail);
        return true;
    }
    return false;
}

bool Receiver::decode(Connection& ch, std::span<const std::byte>& in) {
    const std::uint16_t number = ch.number;
    FrameDecoder& decoder = ch.in.decoder;
    for (;;) {
        switch (decoder.feed(in)) {
            case FrameDecoder::Step::need_bytes: return true;
            case FrameDecoder::Step::need_message: decoder.provide(frame_target(ch, in)); break;
            case FrameDecoder::Step::message_ready: {
                MessagePtr m = take_frame(ch);
                if (!m) {
                    starve(ch, in);  // the frame waits, whole, in the connection's own message
                    return true;
                }
                on_received(ch, std::move(m));
                if (!still_decoding(ch, number)) {
                    return false;
                }
                break;
            }
            case FrameDecoder::Step::confirmation:
                if (!loop_.confirmations().on_confirmation(ch, decoder.confirmed()) ||
                    !still_decoding(ch, number)) {
                    return false;
                }
                break;
            case FrameDecoder::Step::error: loop_.close(ch, decoder.error_status()); return false;
        }
    }
}

bool Receiver::still_decoding(const Connection& ch, std::uint16_t number) const noexcept {
    // Closed, or draining with nothing left to learn from the stream.
    return loop_.alive(ch, number) && (ch.state != Connection::State::draining || ch.report_pending);
}

// --- Frames and the messages they go into -------------------------------------------------------

MessagePtr Receiver::frame_target(Connection& ch, std::span<const std::byte> in) {
    // A draining connection only looks for the peer's last words: it never needs the pool.
    const BinaryHeader& h = ch.in.decoder.pending_header();
    if (ch.state != Connection::State::draining &&
        in.size() >= std::size_t{h.text_headers_len} + h.body_len) {
        if (MessagePtr m = loop_.targets().next()) {
            return m;
        }
    }
    return take_assembly(ch);
}

MessagePtr Receiver::take_frame(Connection& ch) {
    if (ch.in.decoder.filling() != ch.in.assembly_frame || ch.state == Connection::State::draining) {
        return ch.in.decoder.take();  // a pool message (a draining connection's own is given back later)
    }
    MessagePtr target = loop_.targets().next();
    if (!target) {
        return {};
    }
    MessagePtr own = ch.in.decoder.take();
    MessageAccess::trade_contents(*own, *target);
    keep_assembly(ch, std::move(own));
    return target;
}

MessagePtr Receiver::take_assembly(Connection& ch) {
    if (!ch.in.assembly) {
        ch.in.assembly = Message::create();
        ch.in.assembly_frame = ch.in.assembly.get();
    }
    return std::move(ch.in.assembly);
}

void Receiver::keep_assembly(Connection& ch, MessagePtr own) {
    ch.in.assembly = std::move(own);
    if (!ch.in.assembly_listed) {
        ch.in.assembly_listed = true;
        assembly_list_.push_back(ch.number);
    }
}

void Receiver::release_assemblies() {
    for (const std::uint16_t number : assembly_list_) {
        if (Connection* ch = loop_.connection(number); ch != nullptr && ch->in.assembly_listed) {
            ch->in.assembly_listed = false;
            if (ch->in.assembly) {  // else the decoder fills it: a frame is still arriving
                ch->in.assembly.reset();
                ch->in.assembly_frame = nullptr;
            }
        }
    }
    assembly_list_.clear();
}

void Receiver::on_received(Connection& ch, MessagePtr msg) {
    Confirmations& confirmations = loop_.confirmations();
    ++ch.confirms.frames_in;
    if (ch.state == Connection::State::draining) {
        // Our ByeResponse is out; the application has nothing more to get. A crossing ByeResponse
        // still says the peer read everything we wrote before our ByeRequest.
        const bool bye_response = msg->bhdr.proto.op_code == OpCode::bye_response;
        if (msg.get() == ch.in.assembly_frame) {
            keep_assembly(ch, std::move(msg));
        }
        if (bye_response) {
            confirmations.confirmed_by_bye_response(ch);
        }
        return;
    }
    Sender::mark_source(ch, *msg);  // posted back to this connection, it counts as an echo
    Confirmations::first_frame_read(ch);
    msg->bhdr.channel_number = ch.number;  // the peer's number means nothing here
    const std::size_t frame = BinaryHeader::wire_size + msg->thdrs.size() + msg->body.size();
    ch.in.average_frame = ch.in.average_frame == 0 ? frame : (ch.in.average_frame * 7 + frame) / 8;
    const OpCode op = msg->bhdr.proto.op_code;
    if (ch.state == Connection::State::awaiting_hello) {
        if (!on_hello(ch, *msg)) {
            return;
        }
    } else if (op == OpCode::hello_request) {
        loop_.close(ch, AmpeStatus::not_allowed);  // a connection says hello once
        return;
    } else if (!msg->thdrs.empty()) {
        clean_received_headers(msg->thdrs);  // `~` headers are the engine's to write, never a peer's
    }
    if (op == OpCode::hello_response) {
        if (!ch.stream->append_peer_identity(msg->thdrs, 0)) {
            loop_.close(ch, AmpeStatus::invalid_headers_len,
                        "the HelloResponse's text headers leave no room for ~peer_subject");
            return;
        }
        loop_.connector().on_hello_response(ch);  // the connect is done: its HelloRequest is let go
    }
    loop_.deliver(*ch.group, std::move(msg));
    if (op == OpCode::bye_response) {
        confirmations.confirmed_by_bye_response(ch);
        loop_.close(ch, AmpeStatus::success);
    }
}

bool Receiver::on_hello(Connection& ch, Message& hello) {
    if (hello.bhdr.proto.op_code != OpCode::hello_request) {
        loop_.close(ch, AmpeStatus::not_allowed);  // the first frame must be HelloRequest
        return false;
    }
    ch.state = Connection::State::open;
    ch.deadline = {};  // the handshake timer no longer applies
    loop_.confirmations().take_offer(ch, hello);
    clean_received_headers(hello.thdrs);
    // What TLS verified of the client (its certificate's names), which listener took it, then who
    // connected, as we saw it (`~peer` last). A Hello whose headers leave no room for those that
    // must be there is refused: the application must never take a Hello without them for one that
    // has them. The names leave room for the two after them.
    const std::string listener = std::to_string(ch.listener);
    const std::string peer = describe_peer(ch.socket);
    const std::size_t after =
        header::listener.size() + listener.size() + header::peer.size() + peer.size() + 6;
    if (!ch.stream->append_peer_identity(hello.thdrs, after)) {
        loop_.close(ch, AmpeStatus::invalid_headers_len,
                    "the HelloRequest's text headers leave no room for ~peer_subject");
        return false;
    }
    if (!append_header(hello.thdrs, header::listener, listener)) {
        loop_.close(ch, AmpeStatus::invalid_headers_len,
                    "the HelloRequest's text headers leave no room for ~listener");
        return false;
    }
    if (!peer.empty() && !append_header(hello.thdrs, header::peer, peer)) {
        loop_.close(ch, AmpeStatus::invalid_headers_len,
                    "the HelloRequest's text headers leave no room for ~peer");
        return false;
    }
    return true;
}

// --- Starving and pausing -----------------------------------------------------------------------

void Receiver::starve(Connection& ch, std::span<const std::byte> rest) {
    std::vector<std::byte>& stash = ch.in.stash;
    const std::byte* stash_begin = stash.data();
    if (!rest.empty() && rest.data() >= stash_begin && rest.data() < stash_begin + stash.size()) {
        ch.in.stash_used = static_cast<std::size_t>(rest.data() - stash_begin);  // starved again mid-stash
    } else {
        if (stash.capacity() < rest.size()) {
            // Doubling: a connection that starves again and again with a few more bytes each time
            // does not allocate each time. Never past one read: the connection's budget.
            stash.reserve(
                std::clamp(2 * stash.capacity(), rest.size(), std::max(rest.size(), max_read_size)));
        }
        stash.assign(rest.begin(), rest.end());
        ch.in.stash_used = 0;
    }
    ch.in.ahead_known = false;
    ch.in.starved = true;
    pool_pressed_ = true;
    starved_.push_back(ch.number);
    stop_decoding(ch);
    loop_.deliver(*ch.group, loop_.targets().pool_empty_report(ch.number));
}

void Receiver::resume_starved() {
    resume_owed_ = false;
    resuming_.swap(starved_);  // a connection that starves again is listed anew in starved_
    for (const std::uint16_t number : resuming_) {
        Connection* ch = loop_.connection(number);
        if (ch == nullptr || !ch->in.starved) {
            continue;
        }
        if (ch->in.paused) {
            // Its peer takes none of its answers now: decoding more of what it sent would only
            // turn the pool's messages into more answers waiting. `unpause` lists it again.
            ch->in.starved_until_unpause = true;
            continue;
        }
        ch->in.starved = false;
        std::vector<std::byte>& stash = ch->in.stash;
        std::span<const std::byte> in{stash.data() + ch->in.stash_used, stash.size() - ch->in.stash_used};
        if (!decode(*ch, in) || ch->in.starved) {
            continue;  // closed, or the pool ran dry again (the connection is listed anew)
        }
        loop_.confirmations().owe(*ch);
        stash.clear();
        ch->in.ahead_known = false;
        if (stash.capacity() > max_kept_stash) {
            std::vector<std::byte>{}.swap(stash);  // a big stash is rare: give the memory back
        }
        ch->in.stash_used = 0;
        if (may_read(*ch)) {
            loop_.io().set_interest(*ch, ch->interest | Trigger::recv);
            if (loop_.alive(*ch, number) && ch->stream->has_buffered_input()) {
                loop_.io().read_buffered(*ch);  // the socket will not say the stream holds more
            }
        }
    }
    resuming_.clear();
}

void Receiver::pause(Connection& ch) {
    ch.in.paused = true;
    stop_decoding(ch);
}

void Receiver::stop_decoding(Connection& ch) {
    // (Also when it starves again with room left in its stash: it reads ahead again.)
    Triggers want = ch.interest;
    if (!reads_ahead(ch)) {
        want.remove(Trigger::recv);
    } else {
        want |= Trigger::recv;
    }
    loop_.io().set_interest(ch, want);
}

void Receiver::unpause(Connection& ch) {
    ch.in.paused = false;
    if (std::exchange(ch.in.starved_until_unpause, false)) {
        starved_.push_back(ch.number);  // resume_starved decodes its stash, then reads again
        resume_owed_ = true;
        return;
    }
    if (may_read(ch) &&
        (ch.state == Connection::State::open || ch.state == Connection::State::awaiting_hello)) {
        loop_.io().set_interest(ch, ch.interest | Trigger::recv);
    }
}

bool Receiver::may_read(const Connection& ch) noexcept {
    return ch.state == Connection::State::draining || (!ch.in.starved && !ch.in.paused);
}

bool Receiver::drain(Connection& ch) {
    ch.in.starved = false;
    ch.in.paused = false;
    ch.in.starved_until_unpause = false;
    ch.in.ahead_known = false;
    std::vector<std::byte> kept;
    kept.swap(ch.in.stash);
    std::span<const std::byte> in = std::span{kept}.subspan(std::exchange(ch.in.stash_used, 0));
    if (in.empty() || !ch.report_pending) {
        return true;
    }
    // What it kept (read ahead, or while the pool was dry) comes before anything still in the
    // socket: the peer's last confirmation may be in it, and decoding goes on where it stopped.
    const std::uint16_t number = ch.number;
    (void)decode(ch, in);
    return loop_.alive(ch, number);
}

// --- Reading ahead for confirmations ------------------------------------------------------------

bool Receiver::confirms_ahead(const Connection& ch) noexcept {
    return ch.state == Connection::State::open && ch.confirms.mode != ConfirmState::Mode::off;
}

std::size_t Receiver::read_ahead_size(const Connection& ch, std::size_t limit) noexcept {
    if (may_read(ch) || !ch.out.window_shut || !confirms_ahead(ch)) {
        return 0;
    }
    const std::size_t kept = ch.in.stash.size() - ch.in.stash_used;
    return std::min(limit, max_read_ahead - std::min(kept, max_read_ahead));
}

bool Receiver::reads_ahead(const Connection& ch) noexcept {
    return read_ahead_size(ch, 1) != 0;
}

bool Receiver::keeps_input(const Connection& ch) noexcept {
    // A paused connection whose window is open decodes what a receive in flight brings, as
    // before it paused; anything else that may not decode keeps it, behind what it kept already.
    return !may_read(ch) && (ch.in.starved || reads_ahead(ch));
}

bool Receiver::on_read_ahead(Connection& ch, const IoResult& r, std::span<const std::byte> data) {
    // The peer left? As for a connection not read at all, what it sent last is its own loss.
    if (brought_nothing(ch, r, "the peer hung up while it was not being read")) {
        return false;
    }
    std::vector<std::byte>& stash = ch.in.stash;
    if (ch.in.stash_used != 0) {
        // The part already decoded makes room (the start of a frame to look at moves with it).
        stash.erase(stash.begin(), stash.begin() + static_cast<std::ptrdiff_t>(ch.in.stash_used));
        ch.in.ahead_at -= std::min(ch.in.ahead_at, ch.in.stash_used);
        ch.in.stash_used = 0;
    }
    const std::size_t needed = stash.size() + r.bytes;
    if (stash.capacity() < needed) {
        stash.reserve(std::clamp(2 * stash.capacity(), needed, std::max(needed, max_read_size)));
    }
    stash.insert(stash.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(r.bytes));
    if (!ch.in.starved) {
        // Paused: its stash is decoded first once its answers went out (see unpause).
        ch.in.starved = true;
        ch.in.starved_until_unpause = true;
    }
    if (!take_confirmations_ahead(ch)) {
        return false;
    }
    return reads_ahead(ch);
}

bool Receiver::take_confirmations_ahead(Connection& ch) {
    if (!confirms_ahead(ch)) {
        return true;  // (kept while starved: an op code 10 there is the decoder's to refuse)
    }
    const std::uint16_t number = ch.number;
    if (!ch.in.ahead_known) {
        // A header the decoder holds cut short is completed first: if it is a confirmation, it
        // counts before those read ahead.
        std::span<const std::byte> undecoded = std::span{ch.in.stash}.subspan(ch.in.stash_used);
        const std::size_t before = undecoded.size();
        const FrameDecoder::Step step = ch.in.decoder.finish_header(undecoded);
        ch.in.stash_used += before - undecoded.size();
        if (step == FrameDecoder::Step::error) {
            loop_.close(ch, ch.in.decoder.error_status());
            return false;
        }
        if (step == FrameDecoder::Step::confirmation &&
            (!loop_.confirmations().on_confirmation(ch, ch.in.decoder.confirmed()) ||
             !loop_.alive(ch, number))) {
            return false;
        }
        // The first frame to look at begins where the decoder's frame under way ends.
        const std::optional<std::size_t> rest = ch.in.decoder.bytes_to_frame_end();
        if (!rest) {
            return true;  // its header is still cut short: looked at once more is read
        }
        ch.in.ahead_at = ch.in.stash_used + *rest;
        ch.in.ahead_known = true;
    }
    const std::optional<std::size_t> next =
        take_confirmations(ch.in.stash, ch.in.ahead_at, [this, &ch, number](std::uint64_t count) {
            return loop_.confirmations().on_confirmation(ch, count) && loop_.alive(ch, number);
        });
    if (!next) {
        return false;
    }
    ch.in.ahead_at = *next;
    return true;
}

void Receiver::on_window_shut(Connection& ch) {
    if (!may_read(ch)) {
        stop_decoding(ch);  // its reading now follows its read-ahead
    }
}

}  // namespace tofu::detail

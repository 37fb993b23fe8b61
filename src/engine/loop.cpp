#include "engine/loop.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <thread>
#include <utility>

#include "engine/channel_budget.hpp"
#include "engine/engine_core.hpp"
#include "engine/group.hpp"
#include "engine/prefetch.hpp"
#include "message/message_access.hpp"
#include "message/reserved_headers.hpp"

namespace tofu::detail {
namespace {

/// A starved channel keeps a stash up to this capacity for next time (no allocation per starvation).
constexpr std::size_t max_kept_stash = std::size_t{16} * 1024;

/// Marks a received message with the channel it was read from (never 0: numbers start at 1).
std::uint64_t source_tag(const Channel& ch) noexcept {
    return (std::uint64_t{ch.serial} << 16U) | ch.number;
}

/// A queued message's echo mark (`MessageAccess::echo_mark`).
constexpr std::uint64_t not_echo = 0;
constexpr std::uint64_t echo = 1;  ///< read from the channel it is queued on

/// The bytes a frame of `m` takes on the wire.
std::size_t frame_bytes(const Message& m) noexcept {
    return BinaryHeader::wire_size + m.thdrs.size() + m.body.size();
}

/// The smallest read, however few messages the pool has left.
constexpr std::size_t min_read = 4096;
/// How long a channel that answered ByeResponse waits for the peer to close its end.
constexpr auto drain_limit = std::chrono::seconds{5};
/// How long a listener that could not accept (out of descriptors, say) rests before it tries again:
/// the pending connection stays readable, so retrying at once would spin.
constexpr auto accept_retry = std::chrono::milliseconds{100};
/// Replaces (or adds) the `~listen_on` header, keeping the others; false when the value does not
/// fit beside them.
bool set_listen_on(Message& msg, const std::string& value) {
    drop_header(msg.thdrs, header::listen_on);
    return append_header(msg.thdrs, header::listen_on, value);
}

std::string filesystem_uds_path(const Address& address) {
    const auto* uds = std::get_if<UdsServerAddress>(&address);
    return uds != nullptr && !uds->path.empty() && uds->path.front() != '@' ? uds->path : std::string{};
}

/// Calls `fn` with each non-empty piece of `frame` after its first `skip` bytes.
template <typename Fn>
void for_each_unwritten(const FrameParts& frame, std::size_t skip, const Fn& fn) {
    for (const std::span<const std::byte> part : frame.parts) {
        if (skip >= part.size()) {
            skip -= part.size();
            continue;
        }
        fn(part.subspan(skip));
        skip = 0;
    }
}

}  // namespace

Loop::Loop(EngineCore& core)
    : core_{core},
      channels_(std::size_t{max_channel} + 1),
      settings_{core.options_.dead_peer_timeout, core.options_.uds_file_mode},
      // At most an eighth of the pool: the rest stays within reach of a sender's `wait_get`.
      spares_kept_{std::min<std::size_t>(max_read_batch, core.options_.max_pool_msgs / 8)},
      echo_share_{echo_share(core.options_.max_pool_msgs)} {
    start_io();
}

Loop::~Loop() = default;

void Loop::run() noexcept {
    try {
        while (!core_.stop_requested_.load(std::memory_order_acquire)) {
            take_inbox();
            flush_listed();
            if (core_.memory_wanted()) {
                answer_memory();
            }
            deliver_pending();
            if (!report_spare_) {
                report_spare_ = spares_.pop_front();
            }

            int timeout = wait_timeout_ms();
            if (timeout != 0 && (work_waiting() || spin_for_work(timeout))) {
                timeout = 0;
            }
            if (timeout != 0) {
                return_spares(0);  // before sleeping: a waiting sender gets them
                release_assemblies();
            }
            // Before a poll that may block, announce sleep, then look once more: a poster either
            // sees `sleeping_` and writes to the notifier, or its message is seen here. While the
            // engine is awake posters make no syscall, and a poll that cannot block announces
            // nothing: the flag's line then stays in the posters' caches.
            if (timeout != 0) {
                core_.sleeping_.store(true, std::memory_order_seq_cst);
                if (work_waiting()) {
                    timeout = 0;
                }
            }
            // I/O before posted messages: what the peer already said (a ByeResponse, its end of
            // the stream) is read before we write into a socket it may have closed.
            run_io(timeout);
            if (core_.pool_refilled_.exchange(false)) {
                resume_starved();
            }
            expire_timers();
            send_owed_confirmations();
            // A read batch of spares stays for the next turns' reads, in this thread's cache: the
            // reads then rarely take from the pool (under its lock, messages another thread
            // returned). The rest go back in one batch.
            return_spares(spares_kept_);
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
    core_.inbox_.take(posted_);
    while (MessagePtr m = posted_.pop_front()) {  // a close on the way may add to posted_
        on_posted(std::move(m));
    }
}

void Loop::take_inbox_closing(const Channel& ch, MessageQueue& unsent) {
    core_.inbox_.take_claimed(posted_);  // every post past its check is in the inbox by now
    MessageQueue others;
    while (MessagePtr m = posted_.pop_front()) {
        const bool for_ch = m->bhdr.channel_number == ch.number && MessageAccess::group_tag(*m) == ch.group;
        (for_ch ? unsent : others).push_back(std::move(m));
    }
    posted_ = std::move(others);
}

void Loop::on_posted(MessagePtr msg) {
    Group& group = *static_cast<Group*>(MessageAccess::group_tag(*msg));
    const OpCode op = msg->bhdr.proto.op_code;
    if (msg->bhdr.channel_number == EngineCore::command_channel) {
        on_destroy_group(group);
        return;
    }
    if (op == OpCode::welcome_request) {
        on_welcome(group, std::move(msg));
        return;
    }
    if (op == OpCode::hello_request) {
        on_hello(group, std::move(msg));
        return;
    }
    Channel* ch = find(msg->bhdr.channel_number);
    if (ch == nullptr || ch->group != &group) {
        // Not expected: a closing channel takes its posts from the inbox (report_closed). Kept so
        // that a message never vanishes.
        msg->bhdr.status = AmpeStatus::invalid_channel_number;
        msg->bhdr.proto.origin = Origin::engine;
        deliver(group, std::move(msg));
        return;
    }
    if (op == OpCode::bye_signal) {
        close(*ch, AmpeStatus::shutdown_started);
        return;
    }
    enqueue(*ch, std::move(msg));
}

void Loop::on_welcome(Group& group, MessagePtr msg) {
    Channel& ch = install(std::make_unique<Channel>(msg->bhdr.channel_number, Channel::Kind::listener,
                                                    Channel::State::listening, &group, Socket{}));
    const ParsedAddress parsed = parse_address(*msg);
    SocketError result{parsed.status, 0};
    SocketAddress where;
    Socket listening;
    if (result.ok()) {
        result = resolve(parsed.address, where);
    }
    if (result.ok()) {
        result = open_listener(where, settings_, listening);
    }
    msg->bhdr.proto.op_code = OpCode::welcome_response;
    if (!result.ok()) {
        ch.send_queue.push_back(std::move(msg));  // comes back with the reason, then channel_closed
        close(ch, result);
        return;
    }
    ch.socket = std::move(listening);
    if (std::string path = filesystem_uds_path(parsed.address); !path.empty()) {
        ch.socket_file = SocketFile::bound_at(std::move(path));
    }
    if (!set_listen_on(*msg, to_string(bound_address(ch.socket, parsed.address)))) {
        ch.send_queue.push_back(std::move(msg));
        close(ch, AmpeStatus::invalid_headers_len,
              "no room for the bound address beside the other text headers");
        return;
    }
    msg->bhdr.proto.origin = Origin::engine;
    msg->bhdr.status = AmpeStatus::success;
    deliver(group, std::move(msg));
    set_interest(ch, Trigger::accept);
}

void Loop::on_hello(Group& group, MessagePtr msg) {
    Channel& ch = install(std::make_unique<Channel>(msg->bhdr.channel_number, Channel::Kind::io,
                                                    Channel::State::connecting, &group, Socket{}));
    const ParsedAddress parsed = parse_address(*msg);
    offer_confirmations(ch, *msg);
    enqueue(ch, std::move(msg));  // the HelloRequest is the first frame on the wire
    SocketError result{parsed.status, 0};
    SocketAddress where;
    if (result.ok()) {
        result = resolve(parsed.address, where);
    }
    if (!result.ok()) {
        close(ch, result);
        return;
    }
    begin_connect(ch, where);
}

void Loop::on_destroy_group(Group& group) {
    for (auto& slot : channels_) {
        if (slot && slot->group == &group) {
            close(*slot, AmpeStatus::shutdown_started);
        }
    }
    (void)group.pending.take();  // nobody will read them: back to the pool
    if (group.pending_listed) {
        std::erase(delivery_list_, &group);
        group.pending_listed = false;
    }
    group.acknowledge_destroy();
}

void Loop::enqueue(Channel& ch, MessagePtr msg) {
    count_echo(ch, *msg);
    encode_frame(*msg);  // over the source mark count_echo read
    ch.send_queue.push_back(std::move(msg));
    list_for_flush(ch);
}

void Loop::count_echo(Channel& ch, Message& msg) {
    // Only what a peer can keep asking for: a Request, Response or Signal (a HelloResponse made of
    // the HelloRequest, or a ByeResponse, is one of a kind).
    if (MessageAccess::source(msg) != source_tag(ch) || msg.bhdr.proto.type() != MessageType::regular) {
        MessageAccess::echo_mark(msg) = not_echo;
        return;
    }
    MessageAccess::echo_mark(msg) = echo;
    ++ch.echoes_queued;
    ch.echo_bytes += frame_bytes(msg);
    if (!ch.paused && (ch.echoes_queued > echo_share_ || ch.echo_bytes > echo_share_bytes)) {
        pause(ch);
    }
}

void Loop::uncount_echo(Channel& ch, Message& msg) {
    if (std::exchange(MessageAccess::echo_mark(msg), not_echo) == not_echo) {
        return;
    }
    --ch.echoes_queued;
    ch.echo_bytes -= frame_bytes(msg);
    // At half the share: not paused and unpaused again at every message.
    if (ch.paused && ch.echoes_queued <= echo_share_ / 2 && ch.echo_bytes <= echo_share_bytes / 2) {
        unpause(ch);
    }
}

void Loop::list_for_flush(Channel& ch) {
    if (!ch.flush_listed) {
        ch.flush_listed = true;
        flush_list_.push_back(ch.number);
    }
}

// --- Connecting and accepting -------------------------------------------------------------------

void Loop::refuse(Channel& listener, std::string_view why) {
    // Once per episode: a flood of refused connections must not become a flood of reports.
    if (std::exchange(listener.refusing, true)) {
        return;
    }
    MessagePtr report = core_.engine_message(OpCode::signal, AmpeStatus::accept_failed, listener.number);
    append_truncated(report->thdrs, header::detail, why);
    deliver(*listener.group, std::move(report));
}

void Loop::on_connected(Channel& ch, const SocketError& result) {
    if (!result.ok()) {
        close(ch, result);
        return;
    }
    ch.state = Channel::State::open;
    set_interest(ch, Trigger::recv);
    flush(ch);
}

void Loop::adopt(Channel& listener, Socket accepted) {
    const std::uint16_t number = core_.owners_.claim(listener.group->id(), 0);
    if (number == unassigned_channel) {
        refuse(listener, "the engine's limit of " + std::to_string(core_.owners_.limit()) +
                             " open channels is reached");
        return;  // `accepted` resets the connection as it goes
    }
    listener.refusing = false;
    Channel& ch = install(std::make_unique<Channel>(number, Channel::Kind::io, Channel::State::awaiting_hello,
                                                    listener.group, std::move(accepted)));
    set_interest(ch, Trigger::recv);
    if (core_.options_.handshake_timeout.count() > 0) {
        arm(ch, core_.options_.handshake_timeout);
    }
}

void Loop::pause_accepting(Channel& listener, int os_error) {
    // The connection waits in the backlog, where it keeps the listener ready. Rest instead of
    // spinning, then try again.
    refuse(listener, os_error_text(os_error));
    set_interest(listener, {});
    arm(listener, accept_retry);
}

// --- Reading ------------------------------------------------------------------------------------

std::size_t Loop::take_read_targets(const Channel& ch, std::size_t limit) {
    // Read targets come from the pool in one batch (one lock, not one per message); what the
    // reads leave unused goes back with the turn's spares.
    const std::size_t fits = ch.average_frame == 0 ? 1 : limit / ch.average_frame + 1;
    // One more while no message is kept back for a `pool_empty` report: a pool that runs dry is
    // then reported without allocating.
    const std::size_t targets = std::min(fits, max_read_batch) + (report_spare_ ? 0 : 1);
    if (spares_.size() < targets) {
        core_.pool().take_idle(spares_, targets - spares_.size());
    }
    if (!report_spare_ && spares_.size() > 1) {
        report_spare_ = spares_.pop_front();
    }
    return spares_.size();
}

MessagePtr Loop::read_target() {
    if (MessagePtr m = spares_.pop_front()) {
        if (const Message* next = spares_.front(); next != nullptr) {
            prefetch_message_and_body(next, next->body.data().data());  // the next read target
        }
        return m;  // the decoder resets it
    }
    return core_.pool().get_for_read();  // null when dry: the refill hook is then armed
}

std::size_t Loop::read_size(Channel& ch, bool first, std::size_t limit) {
    std::size_t budget = take_read_targets(ch, limit);  // messages we may decode into
    if (ch.state == Channel::State::draining) {
        return limit;  // only the peer's last confirmation matters now; nothing waits on the pool
    }
    if (budget == 0 && !first) {
        return 0;  // the pool is dry: leave the rest for the next turn rather than starve now
    }
    if (budget == 0) {
        MessagePtr m = read_target();
        if (!m) {
            return 0;  // read nothing we could not decode: the caller starves the channel
        }
        spares_.push_back(std::move(m));
        budget = 1;
    }
    const std::size_t wanted = ch.average_frame == 0 ? limit : budget * ch.average_frame;
    return std::clamp(wanted, std::min(min_read, limit), limit);
}

bool Loop::on_read(Channel& ch, const IoResult& r, std::span<const std::byte> data) {
    if (r.would_block) {
        return false;
    }
    if (!r.error.ok()) {
        close(ch, r.error);
        return false;
    }
    if (r.end_of_stream) {
        // The peer left. If it left inside a frame, that frame is dropped and the report says so.
        close(ch, AmpeStatus::peer_disconnected,
              ch.decoder.mid_frame() ? "the stream ended inside a frame" : "");
        return false;
    }
    std::span<const std::byte> in = data.first(r.bytes);
    const std::uint16_t number = ch.number;
    const bool more = decode(ch, in);
    if (find(number) != &ch) {
        return false;
    }
    owe_confirmation(ch);
    return more && !ch.starved;
}

bool Loop::decode(Channel& ch, std::span<const std::byte>& in) {
    const std::uint16_t number = ch.number;
    for (;;) {
        switch (ch.decoder.feed(in)) {
            case FrameDecoder::Step::need_bytes: return true;
            case FrameDecoder::Step::need_message: ch.decoder.provide(frame_target(ch, in)); break;
            case FrameDecoder::Step::message_ready: {
                MessagePtr m = take_frame(ch);
                if (!m) {
                    starve(ch, in);  // the frame waits, whole, in the channel's own message
                    return true;
                }
                on_received(ch, std::move(m));
                if (!still_decoding(ch, number)) {
                    return false;
                }
                break;
            }
            case FrameDecoder::Step::confirmation:
                if (!on_confirmation(ch, ch.decoder.confirmed()) || !still_decoding(ch, number)) {
                    return false;
                }
                break;
            case FrameDecoder::Step::error: close(ch, ch.decoder.error_status()); return false;
        }
    }
}

MessagePtr Loop::frame_target(Channel& ch, std::span<const std::byte> in) {
    // A draining channel only looks for the peer's last words: it never needs the pool.
    const BinaryHeader& h = ch.decoder.pending_header();
    if (ch.state != Channel::State::draining && in.size() >= std::size_t{h.text_headers_len} + h.body_len) {
        if (MessagePtr m = read_target()) {
            return m;
        }
    }
    return take_assembly(ch);
}

MessagePtr Loop::take_frame(Channel& ch) {
    if (ch.decoder.filling() != ch.assembly_frame || ch.state == Channel::State::draining) {
        return ch.decoder.take();  // a pool message (a draining channel's own is given back later)
    }
    MessagePtr target = read_target();
    if (!target) {
        return {};
    }
    MessagePtr own = ch.decoder.take();
    MessageAccess::trade_contents(*own, *target);
    keep_assembly(ch, std::move(own));
    return target;
}

MessagePtr Loop::take_assembly(Channel& ch) {
    if (!ch.assembly) {
        ch.assembly = Message::create();
        ch.assembly_frame = ch.assembly.get();
    }
    return std::move(ch.assembly);
}

void Loop::keep_assembly(Channel& ch, MessagePtr own) {
    ch.assembly = std::move(own);
    if (!ch.assembly_listed) {
        ch.assembly_listed = true;
        assembly_list_.push_back(ch.number);
    }
}

void Loop::release_assemblies() {
    for (const std::uint16_t number : assembly_list_) {
        if (Channel* ch = find(number); ch != nullptr && ch->assembly_listed) {
            ch->assembly_listed = false;
            if (ch->assembly) {  // else the decoder fills it: a frame is still arriving
                ch->assembly.reset();
                ch->assembly_frame = nullptr;
            }
        }
    }
    assembly_list_.clear();
}

bool Loop::still_decoding(const Channel& ch, std::uint16_t number) const noexcept {
    // Closed, or draining with nothing left to learn from the stream.
    return find(number) == &ch && (ch.state != Channel::State::draining || ch.report_pending);
}

void Loop::on_received(Channel& ch, MessagePtr msg) {
    ++ch.frames_in;
    if (ch.state == Channel::State::draining) {
        // Our ByeResponse is out; the application has nothing more to get. A crossing ByeResponse
        // still says the peer read everything we wrote before our ByeRequest.
        const bool bye_response = msg->bhdr.proto.op_code == OpCode::bye_response;
        if (msg.get() == ch.assembly_frame) {
            keep_assembly(ch, std::move(msg));
        }
        if (bye_response) {
            confirmed_by_bye_response(ch);
        }
        return;
    }
    MessageAccess::set_source(*msg, source_tag(ch));  // posted back to this channel, it counts as an echo
    if (ch.confirming == Channel::Confirming::offered) {
        decline_confirmations(ch);  // a server that confirms makes a confirmation its first frame
    }
    msg->bhdr.channel_number = ch.number;  // the peer's number means nothing here
    const std::size_t frame = BinaryHeader::wire_size + msg->thdrs.size() + msg->body.size();
    ch.average_frame = ch.average_frame == 0 ? frame : (ch.average_frame * 7 + frame) / 8;
    const OpCode op = msg->bhdr.proto.op_code;
    if (ch.state == Channel::State::awaiting_hello) {
        if (op != OpCode::hello_request) {
            close(ch, AmpeStatus::not_allowed);  // the first frame must be HelloRequest
            return;
        }
        ch.state = Channel::State::open;
        ch.deadline = {};  // the handshake timer no longer applies
        take_confirmation_offer(ch, *msg);
        clean_received_headers(msg->thdrs);
        // Who connected, as we saw it. A Hello whose headers leave no room for it is refused: the
        // application must never take a Hello without it for one that has it.
        if (const std::string peer = describe_peer(ch.socket);
            !peer.empty() && !append_header(msg->thdrs, header::peer, peer)) {
            close(ch, AmpeStatus::invalid_headers_len,
                  "the HelloRequest's text headers leave no room for ~peer");
            return;
        }
    } else if (op == OpCode::hello_request) {
        close(ch, AmpeStatus::not_allowed);  // a connection says hello once
        return;
    } else if (!msg->thdrs.empty()) {
        clean_received_headers(msg->thdrs);  // `~` headers are the engine's to write, never a peer's
    }
    deliver(*ch.group, std::move(msg));
    if (op == OpCode::bye_response) {
        confirmed_by_bye_response(ch);
        close(ch, AmpeStatus::success);
    }
}

// --- Writing ------------------------------------------------------------------------------------

void Loop::flush_listed() {
    // By index: a flush that lists a channel (a close, say) appends to the vector as we go.
    for (std::size_t i = 0; i < flush_list_.size(); ++i) {  // NOLINT(modernize-loop-convert)
        Channel* ch = find(flush_list_[i]);
        if (ch != nullptr && ch->flush_listed) {
            ch->flush_listed = false;
            if (!ch->interest.has(Trigger::send)) {  // else the socket is full: its readiness flushes
                flush(*ch);
            }
        }
    }
    flush_list_.clear();
}

Gathered Loop::gather(const Channel& ch, std::span<native::IoSlice> parts, std::size_t regular_budget,
                      std::span<std::byte> staging) {
    // Without staging, the frame count is capped too: a completion backend tracks it per send.
    const std::size_t max_frames = staging.empty() ? max_frames_per_write : SIZE_MAX;
    Gathered g;
    std::size_t skip = ch.head_written;  // of the front frame only
    std::size_t staged = 0;              // bytes copied into `staging`
    const std::byte* run = nullptr;      // where the staged run the last slice covers begins
    for (Message* m = ch.send_queue.front();
         m != nullptr && g.frames < max_frames && g.parts + 3 <= parts.size();
         m = MessageQueue::next_of(m), ++g.frames, skip = 0) {
        // The send window counts what the peer must confirm: the application's regular frames,
        // not our confirmations.
        if (m != ch.confirmation_frame && m->bhdr.proto.type() == MessageType::regular &&
            regular_budget-- == 0) {
            break;
        }
        const FrameParts frame = frame_parts(*m);
        const std::size_t left = frame.size() - skip;
        g.bytes += left;
        if (frame.size() <= max_staged_frame && left <= staging.size() - staged) {
            if (run == nullptr) {
                run = staging.data() + staged;
                ++g.parts;
            }
            for_each_unwritten(frame, skip, [&](std::span<const std::byte> piece) {
                std::memcpy(staging.data() + staged, piece.data(), piece.size());
                staged += piece.size();
            });
            parts[g.parts - 1] =
                native::io_slice(run, static_cast<std::size_t>(staging.data() + staged - run));
            continue;
        }
        run = nullptr;
        for_each_unwritten(frame, skip, [&](std::span<const std::byte> piece) {
            parts[g.parts++] = native::io_slice(piece.data(), piece.size());
        });
    }
    return g;
}

bool Loop::retire(Channel& ch, std::size_t written) {
    // A partly written frame stays at the front.
    ch.written += written;
    const std::uint16_t number = ch.number;
    while (written != 0) {
        Message* front = ch.send_queue.front();
        const std::size_t left = frame_parts(*front).size() - ch.head_written;
        if (written < left) {
            ch.head_written += written;
            return true;
        }
        written -= left;
        ch.head_written = 0;
        on_sent(ch, ch.send_queue.pop_front());
        if (find(number) != &ch || ch.state == Channel::State::draining) {
            return false;
        }
    }
    return true;
}

std::size_t Loop::window(const Channel& ch) const noexcept {
    if (ch.confirming == Channel::Confirming::off) {
        return SIZE_MAX;
    }
    const std::size_t cap = core_.options_.max_unconfirmed_frames;
    return ch.unconfirmed.size() < cap ? cap - ch.unconfirmed.size() : 0;
}

void Loop::shut_window(Channel& ch) {
    ch.window_shut = true;
    watch_stall(ch);
}

void Loop::open_window(Channel& ch) {
    if (ch.window_shut && window(ch) != 0) {
        ch.window_shut = false;
        list_for_flush(ch);
    }
}

void Loop::watch_stall(Channel& ch) {
    // One timer per `stall_timeout` while output waits, not one per write: when it fires, it
    // looks whether anything was written since (on_deadline). A channel with a timer of its own
    // running (a handshake, a closing one's) is watched when that one is done.
    if (core_.options_.stall_timeout.count() > 0 && ch.deadline == Clock::time_point{}) {
        ch.stall_mark = ch.written;
        arm(ch, core_.options_.stall_timeout);
    }
}

void Loop::on_stall_deadline(Channel& ch) {
    if (ch.send_queue.empty() && !sending(ch)) {
        return;  // everything went out
    }
    if (ch.written != ch.stall_mark) {
        watch_stall(ch);  // it moved: watch again from here
        return;
    }
    const std::string what =
        ch.window_shut
            ? "confirmed none of the last " + std::to_string(ch.unconfirmed.size()) + " frames written"
            : "read none of the " + std::to_string(ch.send_queue.size()) + " messages waiting for it";
    close(ch, AmpeStatus::communication_failed,
          "the peer " + what + " in " + std::to_string(core_.options_.stall_timeout.count()) + " ms");
}

void Loop::on_sent(Channel& ch, MessagePtr msg) {
    if (msg.get() == ch.confirmation_frame) {
        ch.confirmation = std::move(msg);  // home again; what arrived meanwhile is confirmed later
        if (ch.frames_in != ch.confirmed_in) {
            owe_confirmation_later(ch);
        }
        return;
    }
    on_frame_written(ch, *msg);
    uncount_echo(ch, *msg);
    const OpCode op = msg->bhdr.proto.op_code;
    // Written: a spare for the reads, then back to the pool in a batch (return_spares).
    if (core_.pool().owns(*msg)) {
        spares_.push_back(std::move(msg));
    } else {
        msg.reset();
    }
    if (op == OpCode::bye_response) {
        start_draining(ch);
    }
}

void Loop::return_spares(std::size_t keep) {
    if (spares_.size() > keep) {
        MessageQueue excess = spares_.take_front(spares_.size() - keep);  // the coldest
        core_.pool().take_back_all(excess);
    }
}

// --- Backpressure -------------------------------------------------------------------------------

void Loop::starve(Channel& ch, std::span<const std::byte> rest) {
    const std::byte* stash_begin = ch.stash.data();
    if (!rest.empty() && rest.data() >= stash_begin && rest.data() < stash_begin + ch.stash.size()) {
        ch.stash_used = static_cast<std::size_t>(rest.data() - stash_begin);  // starved again mid-stash
    } else {
        if (ch.stash.capacity() < rest.size()) {
            // Doubling: a channel that starves again and again with a few more bytes each time
            // does not allocate each time. Never past one read: the channel's budget.
            ch.stash.reserve(
                std::clamp(2 * ch.stash.capacity(), rest.size(), std::max(rest.size(), max_read_size)));
        }
        ch.stash.assign(rest.begin(), rest.end());
        ch.stash_used = 0;
    }
    ch.starved = true;
    starved_.push_back(ch.number);
    Triggers want = ch.interest;
    set_interest(ch, want.remove(Trigger::recv));
    deliver(*ch.group, pool_empty_report(ch.number));
}

MessagePtr Loop::pool_empty_report(std::uint16_t channel) {
    MessagePtr report = std::move(report_spare_);
    if (!report) {
        return core_.engine_message(OpCode::signal, AmpeStatus::pool_empty, channel);
    }
    report->reset();
    EngineCore::stamp_engine_message(*report, OpCode::signal, AmpeStatus::pool_empty, channel);
    return report;
}

void Loop::resume_starved() {
    resuming_.swap(starved_);  // a channel that starves again is listed anew in starved_
    for (const std::uint16_t number : resuming_) {
        Channel* ch = find(number);
        if (ch == nullptr || !ch->starved) {
            continue;
        }
        ch->starved = false;
        std::span<const std::byte> in{ch->stash.data() + ch->stash_used, ch->stash.size() - ch->stash_used};
        if (!decode(*ch, in) || ch->starved) {
            continue;  // closed, or the pool ran dry again (the channel is listed anew)
        }
        owe_confirmation(*ch);
        ch->stash.clear();
        if (ch->stash.capacity() > max_kept_stash) {
            std::vector<std::byte>{}.swap(ch->stash);  // a big stash is rare: give the memory back
        }
        ch->stash_used = 0;
        if (may_read(*ch)) {
            set_interest(*ch, ch->interest | Trigger::recv);
        }
    }
    resuming_.clear();
}

void Loop::pause(Channel& ch) {
    ch.paused = true;
    Triggers want = ch.interest;
    set_interest(ch, want.remove(Trigger::recv));
}

void Loop::unpause(Channel& ch) {
    ch.paused = false;
    if (may_read(ch) && (ch.state == Channel::State::open || ch.state == Channel::State::awaiting_hello)) {
        set_interest(ch, ch.interest | Trigger::recv);
    }
}

bool Loop::may_read(const Channel& ch) noexcept {
    return ch.state == Channel::State::draining || (!ch.starved && !ch.paused);
}

// --- Closing ------------------------------------------------------------------------------------

void Loop::close(Channel& ch, AmpeStatus reason, std::string_view detail) {
    confirm_before_closing(ch);
    report_closed(ch, reason, detail);
    forget(ch);
}

void Loop::close(Channel& ch, const SocketError& error) {
    close(ch, error.status, os_error_text(error.os_error));
}

void Loop::report_closed(Channel& ch, AmpeStatus reason, std::string_view detail) {
    if (ch.group == nullptr) {
        return;
    }
    // Out of the group's reach first: posts from now on fail, and those already past their check
    // are in the inbox when this returns, so their messages come back here too.
    core_.owners_.hand_to_engine(ch.number);
    for (Message* m = ch.send_queue.front(); m != nullptr; m = MessageQueue::next_of(m)) {
        uncount_echo(ch, *m);  // (before the inbox's join them: their marks are inbox tickets)
    }
    MessageQueue unsent = std::move(ch.send_queue);
    take_inbox_closing(ch, unsent);
    ch.head_written = 0;
    ch.report_pending = false;
    Group* group = std::exchange(ch.group, nullptr);
    // Nothing is lost silently: every message the peer did not confirm, and every message not
    // written, comes back with the reason, in the order they were posted. After a graceful close
    // the reason is success, which a returned message must not claim.
    const AmpeStatus returned_status = reason == AmpeStatus::success ? AmpeStatus::send_failed : reason;
    return_unconfirmed(ch, *group, returned_status);
    // A send still in flight (completion backend) may have written the frames it reaches into:
    // they come back as the unconfirmed ones do. (Not in their own messages: the kernel may read
    // them until the channel's operations are cancelled.)
    std::size_t in_flight = sending(ch) ? ch.frames_sending : 0;
    while (MessagePtr m = unsent.pop_front()) {
        const bool maybe_written = in_flight != 0;
        in_flight -= maybe_written ? 1 : 0;
        if (m.get() == ch.confirmation_frame) {
            ch.confirmation = std::move(m);  // the engine's own frame: not the application's
            continue;
        }
        if (maybe_written) {
            MessagePtr report = core_.engine_message(OpCode::signal, returned_status, ch.number);
            make_unconfirmed(*report, ch.number, m->bhdr, returned_status);
            deliver(*group, std::move(report));
            continue;
        }
        if (m->bhdr.proto.op_code == OpCode::hello_request) {
            drop_header(m->thdrs, confirm_header);  // the offer was ours, not the application's
        }
        m->bhdr.status = returned_status;
        m->bhdr.proto.origin = Origin::engine;
        m->bhdr.channel_number = ch.number;
        deliver(*group, std::move(m));
    }
    MessagePtr closed = core_.engine_message(OpCode::signal, AmpeStatus::channel_closed, ch.number);
    (void)append_header(closed->thdrs, header::reason, status_name(reason));  // a fresh message: fits
    if (!detail.empty()) {
        append_truncated(closed->thdrs, header::detail, detail);
    }
    deliver(*group, std::move(closed));
}

void Loop::start_draining(Channel& ch) {
    // Our ByeResponse is written: the channel is closed for the application, once the peer has
    // confirmed what we wrote before it (it confirms after reading our ByeResponse). The socket
    // stays a little longer so the peer reads the ByeResponse before our end goes away.
    if (ch.confirming == Channel::Confirming::on && !ch.unconfirmed.empty()) {
        ch.report_pending = true;
    } else {
        report_closed(ch, AmpeStatus::success, {});
    }
    shutdown_send(ch.socket);
    ch.state = Channel::State::draining;
    ch.starved = false;
    ch.paused = false;
    std::vector<std::byte>{}.swap(ch.stash);
    arm(ch, drain_limit);
    set_interest(ch, Trigger::recv);
}

void Loop::finish_draining(Channel& ch) {
    if (ch.report_pending) {
        report_closed(ch, AmpeStatus::peer_disconnected,
                      "the peer left without confirming our last messages");
    }
    forget(ch);
}

// --- Timers --------------------------------------------------------------------------------------

void Loop::arm(Channel& ch, Clock::duration after) {
    ch.deadline = Clock::now() + after;
    timers_.arm(ch.number, ch.deadline, [this](std::uint16_t number, Clock::time_point when) {
        const Channel* armed = find(number);
        return armed != nullptr && armed->deadline == when;
    });
}

void Loop::expire_timers() {
    timers_.expire(Clock::now(), [this](std::uint16_t number, Clock::time_point when) {
        Channel* ch = find(number);
        if (ch != nullptr && ch->deadline == when) {  // else the channel moved on, or is another one
            ch->deadline = {};
            on_deadline(*ch);
        }
    });
}

void Loop::on_deadline(Channel& ch) {
    switch (ch.state) {
        case Channel::State::awaiting_hello:
            if (ch.starved) {
                arm(ch, core_.options_.handshake_timeout);  // its Hello may wait on our pool, not on the peer
                return;
            }
            close(
                ch, AmpeStatus::not_allowed,
                "no HelloRequest within " + std::to_string(core_.options_.handshake_timeout.count()) + " ms");
            return;
        case Channel::State::draining: finish_draining(ch); return;
        case Channel::State::listening: set_interest(ch, Trigger::accept); return;  // the rest is over
        case Channel::State::open:
            if (!ch.write_error.ok()) {
                close(ch, ch.write_error);  // the peer's last words did not come
            } else if (ch.peer_end.ended()) {
                (void)on_read(ch, std::exchange(ch.peer_end, {}), {});  // the send did not complete
            } else {
                on_stall_deadline(ch);
            }
            return;
        case Channel::State::connecting: return;
    }
}

void Loop::forget(Channel& ch) {
    release_io(ch);
    ch.socket.close();  // SO_LINGER 0: the peer sees a reset, we never sit in TIME_WAIT
    ch.socket_file.remove();
    const std::uint16_t number = ch.number;
    channels_[number].reset();
    core_.owners_.release(number);
}

void Loop::shut_down() {
    core_.accepting_posts_.store(false);
    // Posted but never processed: back to their groups. Group destroy commands are honoured.
    const auto return_posted = [this] {
        core_.inbox_.take_claimed(posted_);
        while (MessagePtr m = posted_.pop_front()) {
            Group& group = *static_cast<Group*>(MessageAccess::group_tag(*m));
            if (m->bhdr.channel_number == EngineCore::command_channel) {
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
    {
        const std::lock_guard lock{core_.lifecycle_mutex_};
        core_.loop_finished_ = true;
    }
    core_.memory_answered_.notify_all();  // a `memory` call waiting gets the pool's counts
    // Whatever slipped in before loop_finished_ was set.
    return_posted();
    deliver_pending();
}

// --- Delivery and bookkeeping -------------------------------------------------------------------

void Loop::answer_memory() {
    EngineMemory counted;
    const auto count = [&counted](std::size_t bytes) {
        ++counted.channels;
        counted.channel_bytes += bytes;
        counted.largest_channel = std::max(counted.largest_channel, bytes);
    };
    for (const auto& slot : channels_) {
        if (slot) {
            count(held_bytes(*slot));
        }
    }
    core_.answer_memory(counted);
}

void Loop::deliver(Group& group, MessagePtr msg) {
    group.pending.push_back(std::move(msg));
    if (!group.pending_listed) {
        group.pending_listed = true;
        delivery_list_.push_back(&group);
    }
}

void Loop::deliver_pending() {
    for (Group* group : delivery_list_) {
        group->pending_listed = false;
        MessageQueue batch = group->pending.take();
        group->deliver(batch);
    }
    delivery_list_.clear();
}

Channel* Loop::find(std::uint16_t number) const noexcept {
    return number <= max_channel ? channels_[number].get() : nullptr;
}

Channel& Loop::install(std::unique_ptr<Channel> ch) {
    auto& slot = channels_[ch->number];
    ch->serial = next_serial_++;
    slot = std::move(ch);
    return *slot;
}

bool Loop::work_waiting() const noexcept {
    return !core_.inbox_.empty() || !posted_.empty() || core_.pool_refilled_.load() ||
           core_.stop_requested_.load() || core_.memory_wanted_.load();
}

bool Loop::spin_for_work(int timeout_ms) {
    Clock::duration spin = core_.options_.idle_spin;
    if (timeout_ms >= 0) {
        spin = std::min<Clock::duration>(spin, std::chrono::milliseconds{timeout_ms});  // a timer is due
    }
    if (spin.count() <= 0) {
        return false;
    }
    const auto until = Clock::now() + spin;
    do {
        std::this_thread::yield();  // a thread with work to do (a poster, a receiver) goes first
        if (work_waiting() || run_io(0) != 0) {
            return true;
        }
    } while (Clock::now() < until);
    return false;
}

int Loop::wait_timeout_ms() const {
    std::optional<Clock::time_point> earliest = timers_.earliest();
    if (!confirm_list_.empty() && (!earliest || confirm_due_ < *earliest)) {
        earliest = confirm_due_;
    }
    if (!earliest) {
        return -1;
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*earliest - Clock::now());
    return static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(left.count(), 0, 60'000));
}

}  // namespace tofu::detail

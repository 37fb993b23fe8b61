#include "engine/sender.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>

#include "engine/channel_budget.hpp"
#include "engine/io_driver.hpp"
#include "engine/loop.hpp"
#include "message/message_access.hpp"
#include "shared/engine_state.hpp"

namespace tofu::detail {
namespace {

/// Marks a received message with the connection it was read from (never 0: numbers start at 1).
std::uint64_t source_tag(const Connection& ch) noexcept {
    return (std::uint64_t{ch.serial} << 16U) | ch.number;
}

/// A queued message's echo mark (`MessageAccess::echo_mark`).
constexpr std::uint64_t not_echo = 0;
constexpr std::uint64_t echo = 1;  ///< read from the connection it is queued on

/// While the pool is dry, a peer whose answers hold pool messages and that takes none of them for
/// this long (or `stall_timeout`, if shorter) is let go: long enough for a peer that reads at all.
constexpr std::chrono::milliseconds stuck_under_pressure{1000};

std::chrono::nanoseconds stuck_grace(const Options& options) noexcept {
    const auto stall = std::chrono::duration_cast<std::chrono::nanoseconds>(options.stall_timeout);
    return stall.count() > 0 ? std::min<std::chrono::nanoseconds>(stall, stuck_under_pressure)
                             : std::chrono::nanoseconds{stuck_under_pressure};
}

/// The bytes a frame of `m` takes on the wire.
std::size_t frame_bytes(const Message& m) noexcept {
    return BinaryHeader::wire_size + m.thdrs.size() + m.body.size();
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

Sender::Sender(Loop& loop) : loop_{loop}, echo_share_{echo_share(loop.engine().options().max_pool_msgs)} {}

// --- Queueing -----------------------------------------------------------------------------------

void Sender::enqueue(Connection& ch, MessagePtr msg) {
    count_echo(ch, *msg);
    encode_frame(*msg);  // over the source mark count_echo read
    ch.out.queue.push_back(std::move(msg));
    list_for_flush(ch);
}

void Sender::mark_source(const Connection& ch, Message& msg) noexcept {
    MessageAccess::set_source(msg, source_tag(ch));
}

void Sender::count_echo(Connection& ch, Message& msg) {
    // Only what a peer can keep asking for: a Request, Response or Signal (a HelloResponse made of
    // the HelloRequest, or a ByeResponse, is one of a kind).
    if (MessageAccess::source(msg) != source_tag(ch) || msg.bhdr.proto.type() != MessageType::regular) {
        MessageAccess::echo_mark(msg) = not_echo;
        return;
    }
    MessageAccess::echo_mark(msg) = echo;
    ++ch.out.echoes;
    if (!std::exchange(ch.out.echo_listed, true)) {
        echo_holders_.push_back(ch.number);
        if (echo_holders_.size() > prune_at_) {
            // Connections come and go, numbers are reused: the list keeps only those with echoes.
            prune_echo_holders();
            prune_at_ = std::max<std::size_t>(min_prune_at, 2 * echo_holders_.size());
        }
    }
    ch.out.echo_bytes += frame_bytes(msg);
    if (!ch.in.paused && (ch.out.echoes > echo_share_ || ch.out.echo_bytes > echo_share_bytes)) {
        loop_.receiver().pause(ch);
    }
}

void Sender::uncount_echo(Connection& ch, Message& msg) {
    if (std::exchange(MessageAccess::echo_mark(msg), not_echo) == not_echo) {
        return;
    }
    --ch.out.echoes;
    ++ch.out.echoes_out;
    ch.out.echo_bytes -= frame_bytes(msg);
    if (!loop_.engine().pool().owns(msg)) {
        ch.out.released_bytes -= std::min(ch.out.released_bytes, message_bytes(msg));
    }
    // At half the share: not paused and unpaused again at every message.
    if (ch.in.paused && ch.out.echoes <= echo_share_ / 2 && ch.out.echo_bytes <= echo_share_bytes / 2) {
        loop_.receiver().unpause(ch);
    }
}

MessageQueue Sender::take_queue(Connection& ch) {
    for (Message* m = ch.out.queue.front(); m != nullptr; m = MessageQueue::next_of(m)) {
        uncount_echo(ch, *m);  // (before the inbox's join them: their marks are inbox tickets)
    }
    ch.out.head_written = 0;
    return std::move(ch.out.queue);
}

// --- Writing ------------------------------------------------------------------------------------

void Sender::list_for_flush(Connection& ch) {
    if (!ch.out.flush_listed) {
        ch.out.flush_listed = true;
        flush_list_.push_back(ch.number);
    }
}

void Sender::flush_listed() {
    // By index: a flush that lists a connection (a close, say) appends to the vector as we go.
    for (std::size_t i = 0; i < flush_list_.size(); ++i) {  // NOLINT(modernize-loop-convert)
        Connection* ch = loop_.connection(flush_list_[i]);
        if (ch != nullptr && ch->out.flush_listed) {
            ch->out.flush_listed = false;
            if (!ch->interest.has(Trigger::send)) {  // else the socket is full: its readiness flushes
                loop_.io().flush(*ch);
            }
        }
    }
    flush_list_.clear();
}

Gathered Sender::gather(const Connection& ch, std::span<native::IoSlice> parts, SendWindow window,
                        std::span<std::byte> staging) {
    // Without staging, the frame count is capped too: a completion backend tracks it per send.
    const std::size_t max_frames = staging.empty() ? max_frames_per_write : SIZE_MAX;
    Gathered g;
    std::size_t skip = ch.out.head_written;  // of the front frame only
    std::size_t staged = 0;                  // bytes copied into `staging`
    const std::byte* run = nullptr;          // where the staged run the last slice covers begins
    std::size_t regular = 0;                 // Requests, Responses and Signals gathered
    for (Message* m = ch.out.queue.front();
         m != nullptr && g.frames < max_frames && g.parts + 3 <= parts.size();
         m = MessageQueue::next_of(m), ++g.frames, skip = 0) {
        // The send window counts what the peer must confirm: the application's regular frames,
        // not our confirmations.
        if (m != ch.confirms.confirmation_frame && m->bhdr.proto.type() == MessageType::regular) {
            const bool answers_peer =
                m->bhdr.proto.op_code == OpCode::response || MessageAccess::echo_mark(*m) == echo;
            if (!window.admits(answers_peer, regular++)) {
                break;
            }
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

bool Sender::retire(Connection& ch, std::size_t written) {
    // A partly written frame stays at the front.
    ch.out.written += written;
    const std::uint16_t number = ch.number;
    while (written != 0) {
        Message* front = ch.out.queue.front();
        const std::size_t left = frame_parts(*front).size() - ch.out.head_written;
        if (written < left) {
            ch.out.head_written += written;
            return true;
        }
        written -= left;
        ch.out.head_written = 0;
        on_sent(ch, ch.out.queue.pop_front());
        if (!loop_.alive(ch, number) || ch.state == Connection::State::draining) {
            return false;
        }
    }
    return true;
}

void Sender::on_sent(Connection& ch, MessagePtr msg) {
    if (loop_.confirmations().on_written(ch, msg)) {
        return;  // our confirmation, home again
    }
    Confirmations::on_frame_written(ch, *msg);
    uncount_echo(ch, *msg);
    const OpCode op = msg->bhdr.proto.op_code;
    loop_.targets().recycle(std::move(msg));
    if (op == OpCode::bye_response) {
        loop_.start_draining(ch);
    }
}

// --- The send window and the stall watch --------------------------------------------------------

SendWindow Sender::window(const Connection& ch) const noexcept {
    if (ch.confirms.mode == ConfirmState::Mode::off) {
        return {};
    }
    return {.unconfirmed = ch.confirms.unconfirmed.size(),
            .cap = loop_.engine().options().max_unconfirmed_frames};
}

void Sender::shut_window(Connection& ch) {
    ch.out.window_shut = true;
    watch_stall(ch);
    loop_.receiver().on_window_shut(ch);  // the confirmation that opens it must still be read
}

void Sender::open_window(Connection& ch) {
    // Whether the front frame now fits depends on what it is: the next gather tells, and shuts
    // the window again if not.
    if (ch.out.window_shut) {
        ch.out.window_shut = false;
        list_for_flush(ch);
    }
}

void Sender::watch_stall(Connection& ch) {
    // One timer per `stall_timeout` while output waits, not one per write: when it fires, it
    // looks whether anything was written since. A connection with a timer of its own running (a
    // handshake, a closing one's) is watched when that one is done.
    const auto timeout = loop_.engine().options().stall_timeout;
    if (timeout.count() > 0 && ch.deadline == Loop::Clock::time_point{}) {
        ch.out.stall_mark = ch.out.written;
        loop_.arm(ch, timeout);
    }
}

void Sender::on_stall_deadline(Connection& ch) {
    if (ch.out.queue.empty() && !IoDriver::sending(ch)) {
        return;  // everything went out
    }
    if (ch.out.written != ch.out.stall_mark) {
        watch_stall(ch);  // it moved: watch again from here
        return;
    }
    const std::string what =
        ch.out.window_shut
            ? "confirmed none of the last " + std::to_string(ch.confirms.unconfirmed.size()) +
                  " frames written"
            : "read none of the " + std::to_string(ch.out.queue.size()) + " messages waiting for it";
    loop_.close(
        ch, AmpeStatus::communication_failed,
        "the peer " + what + " in " + std::to_string(loop_.engine().options().stall_timeout.count()) + " ms");
}

// --- A dry pool --------------------------------------------------------------------------------

void Sender::prune_echo_holders() {
    // Twice through: every mark forgotten, then each connection that still holds echoes kept once.
    for (const std::uint16_t number : echo_holders_) {
        if (Connection* ch = loop_.connection(number)) {
            ch->out.echo_listed = false;
        }
    }
    std::erase_if(echo_holders_, [this](std::uint16_t number) {
        Connection* ch = loop_.connection(number);
        return ch == nullptr || ch->out.echoes == 0 || std::exchange(ch->out.echo_listed, true);
    });
}

Sender::Relief Sender::relieve_pool(Clock::time_point now) {
    prune_echo_holders();
    relieving_ = echo_holders_;  // walked on a copy: nothing a close below does can change it
    const std::chrono::nanoseconds grace = stuck_grace(loop_.engine().options());
    Relief relief;
    for (const std::uint16_t number : relieving_) {
        Connection* ch = loop_.connection(number);
        // Only where the peer takes nothing now: echoes on their way out give the pool back soon.
        if (ch == nullptr || ch->out.echoes == 0 ||
            !(ch->out.window_shut || ch->interest.has(Trigger::send))) {
            continue;
        }
        const Released r = release_echoes(*ch);
        relief.released = r.moved || relief.released;
        if (!r.kept) {
            continue;
        }
        // Its echoes did not all fit in its own memory. A peer that reads, however slowly, keeps
        // them: they go out. One that has taken nothing for a while gives them all back.
        if (ch->out.echoes_out != ch->out.relief_mark || ch->out.relief_since == Clock::time_point{}) {
            ch->out.relief_mark = ch->out.echoes_out;
            ch->out.relief_since = now;
        }
        const Clock::time_point due = ch->out.relief_since + grace;
        if (now >= due) {
            loop_.close(*ch, AmpeStatus::communication_failed,
                        "the peer took none of its answers while they held messages others waited for");
            relief.released = true;  // everything it held goes back to the application, then the pool
        } else if (!relief.again || due < *relief.again) {
            relief.again = due;
        }
    }
    return relief;
}

Sender::Released Sender::release_echoes(Connection& ch) {
    MessagePool& pool = loop_.engine().pool();
    const auto pool_echo = [&pool](Message& m) {
        return MessageAccess::echo_mark(m) == echo && pool.owns(m);
    };
    Released released;
    // The front frames may be partly written, or in a send in flight: they stay as they are.
    std::size_t keep = std::max<std::size_t>(1, IoDriver::frames_sending(ch));
    Message* before = nullptr;
    Message* m = ch.out.queue.front();
    for (; m != nullptr && keep != 0; --keep) {
        released.kept = released.kept || pool_echo(*m);
        before = m;
        m = MessageQueue::next_of(m);
    }
    for (; m != nullptr; m = MessageQueue::next_of(before)) {
        if (!pool_echo(*m)) {
            before = m;
            continue;
        }
        const ByteBuffer& headers = MessageAccess::headers_buffer(*m);
        if (ch.out.released_bytes + sizeof(Message) + headers.size() + m->body.size() >
            max_released_echo_bytes) {
            released.kept = true;  // its own memory is full
            before = m;
            continue;
        }
        // The encoded frame is copied into a message of the connection's own, sized to it: a pool
        // message may have room for the largest frame and hold a few bytes. The pool message,
        // with its room, goes back to the reads.
        MessagePtr own = m->clone();
        std::memcpy(MessageAccess::wire_header(*own).data(), MessageAccess::wire_header(*m).data(),
                    BinaryHeader::wire_size);
        MessageAccess::echo_mark(*own) = echo;
        MessageAccess::group_tag(*own) = MessageAccess::group_tag(*m);
        ch.out.released_bytes += message_bytes(*own);
        Message* const placed = own.get();
        loop_.targets().recycle(ch.out.queue.replace(before, m, std::move(own)));
        before = placed;
        released.moved = true;
    }
    return released;
}

}  // namespace tofu::detail

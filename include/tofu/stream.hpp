/// @file
/// Payloads of any size. A body holds at most `max_part_size` bytes; a larger payload travels as a
/// `more` stream: parts on one channel sharing one message id, `more` set on every part but the
/// last. `post_stream` sends one, taking its messages from the pool with backpressure;
/// `StreamAssembler` puts streams back together on the receiving side, within limits the
/// application sets. See docs/payloads.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <vector>

#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/status.hpp>

namespace tofu {

// --- Sending -------------------------------------------------------------------------------------

/// How `post_stream` cuts and paces a payload.
struct StreamOptions {
    /// Payload bytes per part, 1 to `max_part_size`.
    std::size_t part_size = max_part_size;
    /// How long to wait for a pool message for the next part (`Ampe::wait_get`). Parts that cannot
    /// be sent come back through `wait_receive`, not to the pool, so a thread that both sends and
    /// receives must not wait forever here.
    std::chrono::nanoseconds pool_wait = std::chrono::seconds{10};
};

/// How far `post_stream` got, and why it stopped.
struct StreamResult {
    /// `success` when every part was posted; else why the stream stopped: the status `post`
    /// failed with (e.g. `invalid_channel_number` when the channel closed meanwhile), `pool_empty`
    /// when no pool message came back within `StreamOptions::pool_wait`, `null_message`,
    /// `invalid_op_code` (the head is not a Request, Response or Signal), `not_allowed` (a part
    /// size of 0 or past `max_part_size`), `processing_failed` (the source could not be read).
    AmpeStatus status = AmpeStatus::success;
    std::uint64_t message_id = 0;  ///< the stream's id, once its first part was posted
    std::size_t parts = 0;         ///< parts posted
    std::uint64_t bytes = 0;       ///< payload bytes posted

    /// True when the whole payload was posted.
    [[nodiscard]] bool ok() const noexcept { return status == AmpeStatus::success; }
};

/// Fills `out` from its front with the payload's next bytes and returns how many it wrote; fewer
/// than `out.size()` means the payload ends there. An exception it throws leaves `post_stream`.
using PayloadSource = std::function<std::size_t(std::span<std::byte> out)>;

/// Posts `payload` on `group` as a stream of parts of `options.part_size` bytes (one part, `more`
/// clear, when it fits; an empty payload is one empty part).
///
/// `head` says what the stream is and becomes its first part: its channel number, op code
/// (Request, Response or Signal) and text headers (which travel on the first part only); its
/// message id is 0 to have `post` assign one, or, for a Response, the Request's. Its body is
/// replaced. The other parts are pool messages from `ampe.wait_get`: the helper never allocates
/// one, so it has at most the pool's size in flight, and copies the payload one part at a time.
///
/// Never throws for what can happen to any stream (the result says how far it got); a stream that
/// stopped early leaves the peer an unfinished stream, which its `StreamAssembler` keeps until
/// the channel closes: close the channel (or send the payload again under a new id).
[[nodiscard]] StreamResult post_stream(Ampe& ampe, ChannelGroup& group, MessagePtr head,
                                       std::span<const std::byte> payload, const StreamOptions& options = {});

/// `post_stream` of a text payload.
[[nodiscard]] StreamResult post_stream(Ampe& ampe, ChannelGroup& group, MessagePtr head,
                                       std::string_view payload, const StreamOptions& options = {});

/// `post_stream` of a payload pulled part by part from `source`, so a file streams without being
/// loaded whole. When the payload's size is a multiple of the part size, its last part is empty.
[[nodiscard]] StreamResult post_stream(Ampe& ampe, ChannelGroup& group, MessagePtr head,
                                       const PayloadSource& source, const StreamOptions& options = {});

/// `post_stream` of everything `in` holds, read part by part; a read error (`badbit`) stops the
/// stream with `processing_failed`.
[[nodiscard]] StreamResult post_stream(Ampe& ampe, ChannelGroup& group, MessagePtr head, std::istream& in,
                                       const StreamOptions& options = {});

// --- Receiving -----------------------------------------------------------------------------------

/// A stream's identity: a peer's parts of one stream share a channel and a message id.
struct StreamKey {
    std::uint16_t channel = 0;     ///< channel number on this side
    std::uint64_t message_id = 0;  ///< the stream's message id

    /// Same channel and id.
    friend constexpr bool operator==(const StreamKey&, const StreamKey&) = default;
    /// Orders keys by channel, then id.
    friend constexpr bool operator<(const StreamKey& a, const StreamKey& b) noexcept {
        return a.channel != b.channel ? a.channel < b.channel : a.message_id < b.message_id;
    }
};

/// Bounds on what a `StreamAssembler` holds for its peers: at most `max_streams * max_payload`
/// bytes of payload, and `max_streams` dropped streams remembered, however the peers behave.
struct StreamLimits {
    std::size_t max_payload = std::size_t{16} << 20U;  ///< largest payload, in bytes
    std::size_t max_streams = 16;                      ///< streams open at once, over all channels
};

/// Why a `StreamAssembler` did not keep a part.
enum class StreamError : std::uint8_t {
    payload_too_big,   ///< the stream grew past `max_payload`: dropped
    too_many_streams,  ///< a new stream while `max_streams` were open: refused
    dropped_earlier,   ///< a later part of a stream dropped or refused before: dropped too
    channel_refused,   ///< a channel with no room left to track refused streams: all its messages are
                       ///< dropped until `drop_channel`
};

/// `"payload_too_big"`, `"too_many_streams"`, `"dropped_earlier"`, `"channel_refused"`.
[[nodiscard]] std::string_view stream_error_name(StreamError error) noexcept;

/// A part the assembler dropped, and why.
struct StreamDrop {
    StreamKey key;      ///< the stream it belongs to
    StreamError error;  ///< why
};

/// A whole payload: the first part's binary header and text headers, and every part's body bytes
/// in order.
class Payload {
public:
    /// A payload that came in one message: it is kept, not copied.
    explicit Payload(MessagePtr single) noexcept;
    /// A payload of several parts: `head` holds the first part's headers (no body), `bytes` the
    /// bodies.
    Payload(MessagePtr head, std::vector<std::byte> bytes, std::size_t parts) noexcept;

    /// The first part's binary header (`more` clear) and text headers. Its body is not the
    /// payload: read `bytes()`.
    [[nodiscard]] const Message& message() const noexcept { return *head_; }
    /// Takes the message out, e.g. to post it back as the answer. The bytes of a payload of
    /// several parts stay here; those of a single part are its body and go with it.
    [[nodiscard]] MessagePtr take_message() noexcept { return std::move(head_); }
    /// The payload.
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept;
    /// The payload read as text.
    [[nodiscard]] std::string_view text() const noexcept;
    /// The payload's size in bytes.
    [[nodiscard]] std::size_t size() const noexcept { return bytes().size(); }
    /// How many parts it came in.
    [[nodiscard]] std::size_t parts() const noexcept { return parts_; }

private:
    MessagePtr head_;
    std::vector<std::byte> joined_;  ///< the bodies of a payload of several parts
    std::size_t parts_ = 1;
};

/// What one part did in `StreamAssembler::add`: at most one of the two is set; neither when the
/// part was kept and its stream awaits more.
struct StreamStep {
    std::optional<Payload> payload;  ///< the payload this part completed
    std::optional<StreamDrop> drop;  ///< the part was dropped: why, and its stream
};

/// Puts the peer's `more` streams back together. Feed it the peer's messages (`Received::from_peer`)
/// in the order they arrive; streams are told apart by channel and message id, so streams of
/// several ids may interleave on one channel. A message without `more` that belongs to no open
/// stream is a whole payload at once, passed on without a copy.
///
/// Bounded for any peer: a stream that grows past `max_payload` is dropped, and a new stream
/// while `max_streams` are open is refused. A dropped or refused stream is remembered (without
/// its bytes; at most `max_streams` of them) until its last part, so its later parts are dropped
/// too (`dropped_earlier`) rather than read as a new stream: the wire does not mark a stream's
/// first part. When one more must be remembered and `max_streams` already are, its channel is
/// refused whole (`channel_refused`): its Requests, Responses and Signals are dropped until
/// `drop_channel`, so close such a channel. Hello and Bye messages never stream: they always pass.
/// Call `drop_channel` with the channel of every `channel_closed` report, so a closed channel's
/// unfinished streams go. Text headers of parts after the first are not kept.
///
/// One thread at a time.
class StreamAssembler {
public:
    /// An assembler with the given bounds (each at least 1).
    explicit StreamAssembler(StreamLimits limits = {}) noexcept;

    /// Takes one message from the peer; returns the payload it completed, or why it was dropped,
    /// or neither while its stream awaits more parts.
    [[nodiscard]] StreamStep add(MessagePtr msg);

    /// Forgets the streams of `channel`, open or dropped, and a refusal of the channel (its
    /// `channel_closed` report arrived); returns how many streams went.
    std::size_t drop_channel(std::uint16_t channel) noexcept;

    /// Forgets one stream, open or dropped; true when there was one.
    bool drop(StreamKey key) noexcept;

    /// Streams being assembled.
    [[nodiscard]] std::size_t open_streams() const noexcept { return open_; }
    /// Dropped streams remembered until their last part.
    [[nodiscard]] std::size_t dropped_streams() const noexcept { return dropped_; }
    /// Payload bytes held by unfinished streams.
    [[nodiscard]] std::size_t held_bytes() const noexcept { return held_bytes_; }

private:
    struct Stream {
        MessagePtr head;               ///< the first part's headers; null once dropped
        std::vector<std::byte> bytes;  ///< the bodies so far
        std::size_t parts = 0;
    };

    using Streams = std::map<StreamKey, Stream>;

    StreamStep start(const StreamKey& key, MessagePtr msg);
    StreamStep extend(Streams::iterator at, MessagePtr msg);
    StreamStep refuse(const StreamKey& key, StreamError error, bool last);
    StreamStep drop_open(Streams::iterator at, StreamError error, bool last);
    void erase(Streams::iterator at) noexcept;

    StreamLimits limits_;
    std::map<StreamKey, Stream> streams_;  ///< open and dropped streams
    std::size_t open_ = 0;                 ///< of which open
    std::size_t dropped_ = 0;              ///< of which dropped, remembered until their last part
    std::set<std::uint16_t> refused_channels_;
    std::size_t held_bytes_ = 0;
};

}  // namespace tofu

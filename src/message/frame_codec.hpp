// Wire frames: encode a message for a vectored write; decode a byte stream incrementally.
//
// A frame is the 16-byte binary header, then the text header bytes, then the body bytes.
// Between two tofu engines that both offered it, one more frame travels: the confirmation
// (docs/wire.md), which never reaches an application.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include <tofu/message.hpp>

namespace tofu::detail {

/// The three pieces of an encoded frame, in order. Empty pieces have size 0.
struct FrameParts {
    std::array<std::span<const std::byte>, 3> parts;

    [[nodiscard]] std::size_t size() const noexcept {
        return parts[0].size() + parts[1].size() + parts[2].size();
    }
};

/// Sets the header's length fields from the message and encodes the header into the message's
/// own scratch, so the parts stay valid while the message lives and is not modified.
FrameParts encode_frame(Message& msg) noexcept;

/// The parts of a frame `encode_frame` already encoded (for writing what is left of it).
[[nodiscard]] FrameParts frame_parts(Message& msg) noexcept;

/// Op code 10 on the wire: a delivery confirmation, engine to engine. Its `message_id` counts the
/// frames its sender has received on the connection so far (confirmations aside); it has no text
/// headers, no body, no flags, status 0. Only on a connection where both engines offered
/// confirmations; everywhere else op code 10 is a violation like 11..15.
inline constexpr OpCode confirmation_op = static_cast<OpCode>(10);

/// True for a well-formed confirmation header (op code 10, nothing but its count).
[[nodiscard]] bool is_confirmation(const BinaryHeader& hdr) noexcept;

/// True when the header bytes `wire` are a well-formed confirmation, as the decoder reads them
/// (the reserved bit 7 of the proto byte clear).
[[nodiscard]] bool is_confirmation(std::span<const std::byte, BinaryHeader::wire_size> wire) noexcept;

/// What a peer may put on the wire: success, `invalid_op_code` for op codes 10..15 and the local
/// ones (ByeSignal, WelcomeRequest, WelcomeResponse), `invalid_message_id` for message id 0 (post
/// assigns every message an id from 1, so a conforming sender never writes 0),
/// `invalid_more_usage` for `more` on a non-regular type. (The decoder also refuses the reserved
/// bit 7 of the proto byte as `invalid_message`.)
[[nodiscard]] AmpeStatus check_wire_header(const BinaryHeader& hdr) noexcept;

/// Turns a byte stream, split anywhere, into messages.
///
/// Usage: call `feed` with the bytes at hand; it advances the span past what it used and says
/// what it needs next. On `need_message`, hand it a message with `provide` (the decoder never
/// allocates one itself, so the caller controls memory), on `message_ready` `take` the message.
/// `error` is final: the stream is broken and nothing more can be decoded.
///
/// Messages come out with origin `application` (a peer cannot pose as the engine); the other
/// header fields are as received.
class FrameDecoder {
public:
    enum class Step {
        need_bytes,     ///< all input used; feed more
        need_message,   ///< a header arrived; `provide` a message to fill
        message_ready,  ///< a complete message is ready; `take` it
        confirmation,   ///< a confirmation arrived (no message needed); see `confirmed`
        error,          ///< protocol violation; see `error_status`
    };

    Step feed(std::span<const std::byte>& in);

    /// From now on (or no longer), op code 10 is a confirmation rather than a violation.
    void accept_confirmations(bool yes) noexcept { confirmations_ = yes; }

    /// The frame count of the confirmation just decoded, after `confirmation`.
    [[nodiscard]] std::uint64_t confirmed() const noexcept { return header_.message_id; }

    /// Gives the decoder a message to fill; it is reset first.
    void provide(MessagePtr msg) noexcept;

    /// The completed message, after `message_ready`.
    [[nodiscard]] MessagePtr take() noexcept;

    /// The message being filled (from `provide` until `take`), or null.
    [[nodiscard]] const Message* filling() const noexcept { return msg_.get(); }

    /// The header being decoded; valid from `need_message` until the message is taken.
    [[nodiscard]] const BinaryHeader& pending_header() const noexcept { return header_; }

    /// The violation after `error`.
    [[nodiscard]] AmpeStatus error_status() const noexcept { return error_; }

    /// True when some bytes of a frame arrived but not the whole frame.
    [[nodiscard]] bool mid_frame() const noexcept;

    /// Feeds the rest of a header cut short and nothing more (a frame's parts stay in `in`): the
    /// step that header leads to (`confirmation`, `need_message`, `error`), or `need_bytes` when
    /// no header was cut short or `in` does not complete it.
    Step finish_header(std::span<const std::byte>& in);

    /// How many of the bytes that come next still belong to the frame under way: 0 between
    /// frames. None while its header is cut short, or after `error`.
    [[nodiscard]] std::optional<std::size_t> bytes_to_frame_end() const noexcept;

    /// What the end of the stream means now: success between frames, `invalid_message` when a
    /// frame was cut, or the earlier error.
    [[nodiscard]] AmpeStatus finish() const noexcept;

    /// Drops any partial frame and message; ready for a new stream.
    void reset() noexcept;

private:
    enum class State { header, awaiting_message, headers, body, ready, failed };

    Step fail(AmpeStatus status) noexcept;
    void start_parts();

    State state_ = State::header;
    std::array<std::byte, BinaryHeader::wire_size> header_bytes_{};
    std::size_t header_have_ = 0;
    BinaryHeader header_;
    MessagePtr msg_;
    std::span<std::byte> part_;       ///< the part being filled: text headers, then body
    std::span<std::byte> body_part_;  ///< the body, filled after the text headers
    std::size_t part_have_ = 0;
    AmpeStatus error_ = AmpeStatus::success;
    bool confirmations_ = false;
};

}  // namespace tofu::detail

#include "message/frame_codec.hpp"

#include <algorithm>
#include <cstring>

#include "message/message_access.hpp"

namespace tofu::detail {

FrameParts encode_frame(Message& msg) noexcept {
    // The buffers are capped at max_part_size, so the lengths always fit in 16 bits.
    msg.bhdr.text_headers_len = static_cast<std::uint16_t>(msg.thdrs.size());
    msg.bhdr.body_len = static_cast<std::uint16_t>(msg.body.size());
    msg.bhdr.encode(MessageAccess::wire_header(msg));
    return frame_parts(msg);
}

FrameParts frame_parts(Message& msg) noexcept {
    return FrameParts{
        {std::span<const std::byte>{MessageAccess::wire_header(msg)}, msg.thdrs.data(), msg.body.data()}};
}

namespace {

/// A confirmation is a bare header: no text headers, no body, no flags, status 0.
bool well_formed_confirmation(const BinaryHeader& hdr) noexcept {
    return hdr.text_headers_len == 0 && hdr.body_len == 0 && !hdr.proto.more && !hdr.proto.oob &&
           hdr.proto.origin == Origin::application && hdr.status == AmpeStatus::success;
}

/// Byte 2 of the header packs the proto bits; its bit 7 is reserved and must be zero.
constexpr std::size_t proto_offset = 2;

/// True when the proto byte has its reserved bit 7 set. `BinaryHeader::decode` drops that bit, so
/// the decoder looks at the raw byte: a frame using it comes from something that is not a
/// conforming tofu, and reading it as if the bit were not there could misread a later protocol.
bool has_reserved_bit(std::byte proto) noexcept {
    return (std::to_integer<unsigned>(proto) & 0x80U) != 0;
}

/// Fills `to` from the front of `in`, which holds at least that many bytes.
void take_bytes(std::span<const std::byte>& in, std::span<std::byte> to) noexcept {
    if (!to.empty()) {
        std::memcpy(to.data(), in.data(), to.size());
        in = in.subspan(to.size());
    }
}

}  // namespace

bool is_confirmation(const BinaryHeader& hdr) noexcept {
    return hdr.proto.op_code == confirmation_op && well_formed_confirmation(hdr);
}

bool is_confirmation(std::span<const std::byte, BinaryHeader::wire_size> wire) noexcept {
    return !has_reserved_bit(wire[proto_offset]) && is_confirmation(BinaryHeader::decode(wire));
}

AmpeStatus check_wire_header(const BinaryHeader& hdr) noexcept {
    if (!travels(hdr.proto.op_code)) {
        return AmpeStatus::invalid_op_code;
    }
    if (hdr.message_id == 0) {
        return AmpeStatus::invalid_message_id;  // post assigns one: a conforming sender never writes 0
    }
    if (hdr.proto.more && hdr.proto.type() != MessageType::regular) {
        return AmpeStatus::invalid_more_usage;
    }
    return AmpeStatus::success;
}

FrameDecoder::Step FrameDecoder::fail(AmpeStatus status) noexcept {
    state_ = State::failed;
    error_ = status;
    msg_.reset();
    return Step::error;
}

void FrameDecoder::start_parts() {
    // The header lengths are 16-bit, so neither part can exceed the buffer cap.
    msg_->bhdr = header_;
    part_ = MessageAccess::headers_buffer(*msg_).resize_for_overwrite(header_.text_headers_len);
    body_part_ = MessageAccess::body_buffer(*msg_).resize_for_overwrite(header_.body_len);
    part_have_ = 0;
    state_ = State::headers;
}

FrameDecoder::Step FrameDecoder::feed(std::span<const std::byte>& in) {
    for (;;) {
        switch (state_) {
            case State::header:
                if (header_have_ == 0 && in.size() >= BinaryHeader::wire_size) {
                    // Whole header at hand: decode in place, no staging copy.
                    if (has_reserved_bit(in[proto_offset])) {
                        return fail(AmpeStatus::invalid_message);
                    }
                    header_ = BinaryHeader::decode(in.first<BinaryHeader::wire_size>());
                    in = in.subspan(BinaryHeader::wire_size);
                } else {
                    if (in.empty()) {
                        return Step::need_bytes;  // (an empty span may hold a null pointer: no memcpy)
                    }
                    const std::size_t n = std::min(in.size(), BinaryHeader::wire_size - header_have_);
                    std::memcpy(header_bytes_.data() + header_have_, in.data(), n);
                    header_have_ += n;
                    in = in.subspan(n);
                    if (header_have_ < BinaryHeader::wire_size) {
                        return Step::need_bytes;
                    }
                    if (has_reserved_bit(header_bytes_[proto_offset])) {
                        return fail(AmpeStatus::invalid_message);
                    }
                    header_ = BinaryHeader::decode(header_bytes_);
                    header_have_ = 0;
                }
                if (confirmations_ && header_.proto.op_code == confirmation_op) {
                    return well_formed_confirmation(header_) ? Step::confirmation
                                                             : fail(AmpeStatus::invalid_message);
                }
                // What only this side makes cannot come from the wire: a peer's frame never reads
                // as an engine report (origin) or as an update_receiver wake-up (status).
                header_.proto.origin = Origin::application;
                if (header_.status == AmpeStatus::receiver_update) {
                    header_.status = AmpeStatus::unknown_error;
                }
                if (const AmpeStatus bad = check_wire_header(header_); bad != AmpeStatus::success) {
                    return fail(bad);
                }
                state_ = State::awaiting_message;
                [[fallthrough]];
            case State::awaiting_message:
                if (!msg_) {
                    return Step::need_message;
                }
                start_parts();
                if (in.size() >= part_.size() + body_part_.size()) {
                    // The usual case: the rest of the frame is at hand, copied without more steps.
                    take_bytes(in, part_);
                    take_bytes(in, body_part_);
                    state_ = State::ready;
                    return Step::message_ready;
                }
                break;
            case State::headers:
            case State::body: {
                const std::size_t n = std::min(in.size(), part_.size() - part_have_);
                if (n != 0) {
                    std::memcpy(part_.data() + part_have_, in.data(), n);
                    part_have_ += n;
                    in = in.subspan(n);
                }
                if (part_have_ < part_.size()) {
                    return Step::need_bytes;
                }
                if (state_ == State::headers) {
                    part_ = body_part_;
                    part_have_ = 0;
                    state_ = State::body;
                    break;
                }
                state_ = State::ready;
                return Step::message_ready;
            }
            case State::ready: return Step::message_ready;
            case State::failed: return Step::error;
        }
    }
}

void FrameDecoder::provide(MessagePtr msg) noexcept {
    msg->reset();
    msg_ = std::move(msg);
}

MessagePtr FrameDecoder::take() noexcept {
    if (state_ != State::ready) {
        return {};
    }
    state_ = State::header;
    part_ = {};
    body_part_ = {};
    return std::move(msg_);
}

bool FrameDecoder::mid_frame() const noexcept {
    switch (state_) {
        case State::header: return header_have_ != 0;
        case State::awaiting_message:
        case State::headers:
        case State::body: return true;
        case State::ready:
        case State::failed: return false;
    }
    return false;
}

FrameDecoder::Step FrameDecoder::finish_header(std::span<const std::byte>& in) {
    if (state_ != State::header || header_have_ == 0) {
        return Step::need_bytes;
    }
    std::span<const std::byte> rest = in.first(std::min(in.size(), BinaryHeader::wire_size - header_have_));
    in = in.subspan(rest.size());
    return feed(rest);  // ends at the header: no message is provided yet
}

std::optional<std::size_t> FrameDecoder::bytes_to_frame_end() const noexcept {
    switch (state_) {
        case State::header: return header_have_ == 0 ? std::optional<std::size_t>{0} : std::nullopt;
        case State::awaiting_message: return std::size_t{header_.text_headers_len} + header_.body_len;
        case State::headers: return part_.size() - part_have_ + body_part_.size();
        case State::body: return part_.size() - part_have_;
        case State::ready: return 0;
        case State::failed: return std::nullopt;
    }
    return std::nullopt;
}

AmpeStatus FrameDecoder::finish() const noexcept {
    if (state_ == State::failed) {
        return error_;
    }
    return mid_frame() ? AmpeStatus::invalid_message : AmpeStatus::success;
}

void FrameDecoder::reset() noexcept {
    state_ = State::header;
    header_have_ = 0;
    msg_.reset();
    part_ = {};
    body_part_ = {};
    part_have_ = 0;
    error_ = AmpeStatus::success;
}

}  // namespace tofu::detail

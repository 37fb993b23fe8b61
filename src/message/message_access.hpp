// Engine-side access to the private parts of a message: pool link, queue link, wire header.
#pragma once

#include <cstring>
#include <utility>

#include <tofu/message.hpp>

namespace tofu::detail {

struct MessageAccess {
    static MessageHome*& home(Message& m) noexcept { return m.home_; }
    static const MessageHome* home(const Message& m) noexcept { return m.home_; }
    static Message*& next(Message& m) noexcept { return m.next_; }
    static Message*& ahead(Message& m) noexcept { return m.ahead_; }
    static void*& group_tag(Message& m) noexcept { return m.group_tag_; }
    static std::uint64_t& inbox_ticket(Message& m) noexcept { return m.inbox_ticket_; }
    /// While in a channel's send queue (its inbox ticket spent): 1 when it counts as an echo.
    static std::uint64_t& echo_mark(Message& m) noexcept { return m.inbox_ticket_; }
    /// Which channel (number and serial, `Loop`'s tag) a received message was read from; 0 for
    /// none. Kept in the wire header's bytes, which are free from its decoding until it is encoded
    /// again (`reset` clears them).
    static void set_source(Message& m, std::uint64_t tag) noexcept {
        std::memcpy(m.wire_header_.data(), &tag, sizeof tag);
    }
    [[nodiscard]] static std::uint64_t source(const Message& m) noexcept {
        std::uint64_t tag = 0;
        std::memcpy(&tag, m.wire_header_.data(), sizeof tag);
        return tag;
    }
    static std::span<std::byte, BinaryHeader::wire_size> wire_header(Message& m) noexcept {
        return m.wire_header_;
    }
    static ByteBuffer& body_buffer(Message& m) noexcept { return m.body.buf_; }
    /// Moves `from`'s binary header and contents into `to`, and `to`'s buffers (their storage)
    /// into `from`: nothing is copied.
    static void trade_contents(Message& from, Message& to) noexcept {
        to.bhdr = from.bhdr;
        std::swap(from.thdrs.buf_, to.thdrs.buf_);
        std::swap(from.body.buf_, to.body.buf_);
    }
    static ByteBuffer& headers_buffer(Message& m) noexcept { return m.thdrs.buf_; }
    static const ByteBuffer& headers_buffer(const Message& m) noexcept { return m.thdrs.buf_; }
    static ByteBuffer& headers_buffer(TextHeaders& h) noexcept { return h.buf_; }
    static Message* make() { return new Message(); }
};

}  // namespace tofu::detail

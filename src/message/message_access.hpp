// Engine-side access to the private parts of a message: pool link, queue link, wire header.
#pragma once

#include <tofu/message.hpp>

namespace tofu::detail {

struct MessageAccess {
    static MessageHome*& home(Message& m) noexcept { return m.home_; }
    static const MessageHome* home(const Message& m) noexcept { return m.home_; }
    static Message*& next(Message& m) noexcept { return m.next_; }
    static Message*& ahead(Message& m) noexcept { return m.ahead_; }
    static void*& group_tag(Message& m) noexcept { return m.group_tag_; }
    static std::uint64_t& inbox_ticket(Message& m) noexcept { return m.inbox_ticket_; }
    static std::span<std::byte, BinaryHeader::wire_size> wire_header(Message& m) noexcept {
        return m.wire_header_;
    }
    static ByteBuffer& body_buffer(Message& m) noexcept { return m.body.buf_; }
    static ByteBuffer& headers_buffer(Message& m) noexcept { return m.thdrs.buf_; }
    static ByteBuffer& headers_buffer(TextHeaders& h) noexcept { return h.buf_; }
    static Message* make() { return new Message(); }
};

}  // namespace tofu::detail

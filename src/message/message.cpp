#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include <tofu/message.hpp>

#include "message/message_access.hpp"
#include "message/text.hpp"

namespace tofu {
namespace {

constexpr std::array<std::string_view, max_op_code + 1> op_code_names{
    "Request",    "Response",    "Signal",    "HelloRequest",   "HelloResponse",
    "ByeRequest", "ByeResponse", "ByeSignal", "WelcomeRequest", "WelcomeResponse",
};

}  // namespace

std::string_view op_code_name(OpCode op) noexcept {
    return is_defined(op) ? op_code_names[static_cast<std::size_t>(op)] : "Undefined";
}

// --- BinaryHeader -------------------------------------------------------------------------------

// --- ByteBuffer ---------------------------------------------------------------------------------

namespace detail {

void ByteBuffer::check(std::size_t n) const {
    if (n > max_part_size) {
        throw Error{limit_status_,
                    std::to_string(n) + " bytes exceed the limit of " + std::to_string(max_part_size)};
    }
}

void ByteBuffer::reserve(std::size_t n) {
    check(n);
    if (n <= capacity_) {
        return;
    }
    // Grow geometrically so repeated appends stay amortised O(1), but never past the cap.
    const std::size_t grown =
        std::min<std::size_t>(max_part_size, std::max<std::size_t>(n, 2 * std::size_t{capacity_}));
    auto fresh = std::make_unique_for_overwrite<std::byte[]>(grown);
    if (size_ != 0) {
        std::memcpy(fresh.get(), data_.get(), size_);
    }
    data_ = std::move(fresh);
    capacity_ = static_cast<std::uint32_t>(grown);
}

void ByteBuffer::append(std::span<const std::byte> more) {
    if (more.empty()) {
        return;
    }
    reserve(size_ + more.size());
    std::memcpy(data_.get() + size_, more.data(), more.size());
    size_ += static_cast<std::uint32_t>(more.size());
}

void ByteBuffer::assign(std::span<const std::byte> bytes) {
    check(bytes.size());
    size_ = 0;
    append(bytes);
}

std::span<std::byte> ByteBuffer::grow_for_overwrite(std::size_t n) {
    check(n);
    // Old contents are about to be overwritten: no need to keep them.
    size_ = 0;
    reserve(n);
    size_ = static_cast<std::uint32_t>(n);
    return {data_.get(), n};
}

}  // namespace detail

// --- TextHeaders --------------------------------------------------------------------------------

void TextHeaders::iterator::advance() noexcept {
    while (!rest_.empty()) {
        const std::size_t eol = rest_.find('\n');
        const std::string_view line = rest_.substr(0, eol);
        rest_.remove_prefix(eol == std::string_view::npos ? rest_.size() : eol + 1);
        if (const std::optional<TextHeader> h = detail::parse_header_line(line)) {
            current_ = *h;
            at_end_ = false;
            return;
        }
    }
    rest_ = {};
    current_ = {};
    at_end_ = true;
}

void TextHeaders::append(std::string_view name, std::string_view value) {
    if (name.empty() || name.find_first_of(":\r\n") != std::string_view::npos) {
        throw Error{AmpeStatus::invalid_message,
                    "text header name '" + std::string{name} + "' is empty or holds ':', CR or LF"};
    }
    if (value.find_first_of("\r\n") != std::string_view::npos) {
        throw Error{AmpeStatus::invalid_message,
                    "value of text header '" + std::string{name} + "' holds CR or LF"};
    }
    // Raw bytes (`assign_raw`) may end without a line break: an LF first, so that the new header
    // cannot run on from that last line.
    const bool separate = !buf_.empty() && buf_.view().back() != '\n';
    const std::size_t needed = buf_.size() + (separate ? 1 : 0) + name.size() + 1 + value.size() + 2;
    if (needed > max_part_size) {
        throw Error{AmpeStatus::invalid_headers_len, "text headers would take " + std::to_string(needed) +
                                                         " bytes, over the limit of " +
                                                         std::to_string(max_part_size)};
    }
    buf_.reserve(needed);
    if (separate) {
        buf_.append(std::as_bytes(std::span{"\n", 1}));
    }
    buf_.append(std::as_bytes(std::span{name}));
    buf_.append(std::as_bytes(std::span{":", 1}));
    buf_.append(std::as_bytes(std::span{value}));
    buf_.append(std::as_bytes(std::span{"\r\n", 2}));
}

std::optional<std::string_view> TextHeaders::find(std::string_view name) const noexcept {
    for (const TextHeader h : *this) {
        if (detail::iequals(h.name, name)) {
            return h.value;
        }
    }
    return std::nullopt;
}

// --- Message ------------------------------------------------------------------------------------

MessagePtr Message::create() {
    return MessagePtr{detail::MessageAccess::make()};
}

MessagePtr Message::clone() const {
    MessagePtr copy = create();
    copy->bhdr = bhdr;
    copy->thdrs.assign_raw(thdrs.data());
    copy->body.copy(body.data());
    return copy;
}

static_assert(sizeof(Message) <= 128, "a message is two cache lines: a new member must fit in them");

void Message::reset() noexcept {
    bhdr = BinaryHeader{};
    thdrs.reset();
    body.reset();
    ahead_ = nullptr;
    wire_header_ = {};  // also the engine's mark of where it was read (MessageAccess::source)
}

void MessageDeleter::operator()(Message* msg) const noexcept {
    if (msg == nullptr) {
        return;
    }
    if (detail::MessageHome* home = detail::MessageAccess::home(*msg); home != nullptr) {
        home->take_back(msg);
    } else {
        delete msg;
    }
}

}  // namespace tofu

// One readable line per message (include/tofu/dump.hpp): the same line the tofu tool prints.
#include <algorithm>
#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>

#include <tofu/dump.hpp>
#include <tofu/message.hpp>
#include <tofu/status.hpp>

namespace tofu {
namespace {

unsigned byte_at(std::string_view s, std::size_t i) noexcept {
    return static_cast<unsigned char>(s[i]);
}

/// Length of the well-formed UTF-8 sequence starting at `s[i]` (RFC 3629: no overlong forms, no
/// surrogates, nothing past U+10FFFF), or 0 when there is none.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
    const unsigned lead = byte_at(s, i);
    if (lead < 0x80U) {
        return 1;
    }
    std::size_t length = 0;
    unsigned low = 0x80U;  // the range allowed for the second byte
    unsigned high = 0xBFU;
    if (lead >= 0xC2U && lead <= 0xDFU) {
        length = 2;
    } else if (lead >= 0xE0U && lead <= 0xEFU) {
        length = 3;
        low = lead == 0xE0U ? 0xA0U : 0x80U;
        high = lead == 0xEDU ? 0x9FU : 0xBFU;
    } else if (lead >= 0xF0U && lead <= 0xF4U) {
        length = 4;
        low = lead == 0xF0U ? 0x90U : 0x80U;
        high = lead == 0xF4U ? 0x8FU : 0xBFU;
    } else {
        return 0;
    }
    if (i + length > s.size()) {
        return 0;
    }
    if (byte_at(s, i + 1) < low || byte_at(s, i + 1) > high) {
        return 0;
    }
    for (std::size_t k = 2; k < length; ++k) {
        if (byte_at(s, i + k) < 0x80U || byte_at(s, i + k) > 0xBFU) {
            return 0;
        }
    }
    return length;
}

bool is_control(unsigned c) noexcept {
    return c < 0x20U || c == 0x7FU;
}

void append_hex_byte(std::string& out, unsigned b) {
    static constexpr std::string_view digits = "0123456789abcdef";
    out += digits[(b >> 4U) & 0x0FU];
    out += digits[b & 0x0FU];
}

void append_hex(std::string& out, std::string_view bytes) {
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        append_hex_byte(out, byte_at(bytes, i));
    }
}

/// Appends `text` escaping what would break a line or a quoted field; bytes that are not UTF-8
/// become `\xHH`. `also` lists further ASCII characters to write as `\xHH` (for unquoted names).
void append_escaped(std::string& out, std::string_view text, std::string_view also = {}) {
    for (std::size_t i = 0; i < text.size();) {
        const unsigned c = byte_at(text, i);
        const std::size_t length = utf8_sequence_length(text, i);
        if (length > 1) {
            out.append(text.substr(i, length));
            i += length;
            continue;
        }
        ++i;
        switch (c) {
            case '\\': out += "\\\\"; continue;
            case '"': out += "\\\""; continue;
            case '\n': out += "\\n"; continue;
            case '\r': out += "\\r"; continue;
            case '\t': out += "\\t"; continue;
            default: break;
        }
        if (length == 0 || is_control(c) || also.find(static_cast<char>(c)) != std::string_view::npos) {
            out += "\\x";
            append_hex_byte(out, c);
        } else {
            out += static_cast<char>(c);
        }
    }
}

/// The longest front of printable `text` of at most `limit` bytes that ends between characters.
std::string_view text_front(std::string_view text, std::size_t limit) noexcept {
    std::size_t end = 0;
    while (end < text.size()) {
        const std::size_t length = std::max<std::size_t>(1, utf8_sequence_length(text, end));
        if (end + length > limit) {
            break;
        }
        end += length;
    }
    return text.substr(0, end);
}

void append_body(std::string& line, std::string_view body, std::size_t max_body) {
    line.append("body[").append(std::to_string(body.size())).append("]=");
    if (is_printable_text(body)) {
        const std::string_view shown = text_front(body, max_body);
        line += '"';
        append_escaped(line, shown);
        line += '"';
        if (shown.size() < body.size()) {
            line.append("...");
        }
    } else {
        const std::string_view shown = body.substr(0, max_body);
        line.append("hex:");
        append_hex(line, shown);
        if (shown.size() < body.size()) {
            line.append("...");
        }
    }
}

}  // namespace

bool is_printable_text(std::string_view bytes) noexcept {
    for (std::size_t i = 0; i < bytes.size();) {
        const std::size_t length = utf8_sequence_length(bytes, i);
        if (length == 0) {
            return false;
        }
        const unsigned c = byte_at(bytes, i);
        if (length == 1 && is_control(c) && c != '\t' && c != '\n' && c != '\r') {
            return false;
        }
        i += length;
    }
    return true;
}

std::string to_string(const BinaryHeader& hdr) {
    std::string line{op_code_name(hdr.proto.op_code)};
    line.append(" ch=").append(std::to_string(hdr.channel_number));
    line.append(" id=").append(std::to_string(hdr.message_id));
    line.append(" more=").append(hdr.proto.more ? "1" : "0");
    line.append(" origin=").append(hdr.proto.origin == Origin::engine ? "engine" : "application");
    if (hdr.status != AmpeStatus::success) {
        line.append(" status=").append(status_name(hdr.status));
    }
    return line;
}

std::string to_string(const Message& msg, std::size_t max_body) {
    std::string line = to_string(msg.bhdr);
    line.append(" headers{");
    bool first = true;
    for (const TextHeader header : msg.thdrs) {
        if (!first) {
            line += ' ';
        }
        first = false;
        append_escaped(line, header.name, " ={}");
        line.append("=\"");
        append_escaped(line, header.value);
        line += '"';
    }
    line.append("} ");
    append_body(line, msg.body.text(), max_body);
    return line;
}

std::ostream& operator<<(std::ostream& out, const BinaryHeader& hdr) {
    return out << to_string(hdr);
}

std::ostream& operator<<(std::ostream& out, const Message& msg) {
    return out << to_string(msg);
}

}  // namespace tofu

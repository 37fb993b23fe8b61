#include "print.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <tofu/message.hpp>
#include <tofu/status.hpp>

namespace tofu::cli {
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

std::string hex(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        append_hex_byte(out, byte_at(bytes, i));
    }
    return out;
}

/// Copies `text` escaping what would break a line or a quoted field; bytes that are not UTF-8 become
/// `\xHH`. `also` lists further ASCII characters to write as `\xHH` (for unquoted header names).
std::string escape(std::string_view text, std::string_view also = {}) {
    std::string out;
    out.reserve(text.size());
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
    return out;
}

std::string_view origin_name(const Message& msg) noexcept {
    return msg.is_from_engine() ? "engine" : "application";
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

std::string format_text(const Message& msg) {
    const BinaryHeader& h = msg.bhdr;
    std::string line{op_code_name(h.proto.op_code)};
    line.append(" ch=").append(std::to_string(h.channel_number));
    line.append(" id=").append(std::to_string(h.message_id));
    line.append(" more=").append(msg.has_more() ? "1" : "0");
    line.append(" origin=").append(origin_name(msg));
    if (h.status != AmpeStatus::success) {
        line.append(" status=").append(status_name(h.status));
    }
    line.append(" headers{");
    bool first = true;
    for (const TextHeader header : msg.thdrs) {
        if (!first) {
            line += ' ';
        }
        first = false;
        line.append(escape(header.name, " ={}")).append("=\"").append(escape(header.value)).append("\"");
    }
    line.append("} body[").append(std::to_string(msg.body.size())).append("]=");
    const std::string_view body = msg.body.text();
    if (is_printable_text(body)) {
        line.append("\"").append(escape(body)).append("\"");
    } else {
        line.append("hex:").append(hex(body));
    }
    return line;
}

std::string format_json(const Message& msg) {
    const BinaryHeader& h = msg.bhdr;
    nlohmann::ordered_json headers = nlohmann::ordered_json::array();
    for (const TextHeader header : msg.thdrs) {
        headers.push_back({{"name", header.name}, {"value", header.value}});
    }
    const std::string_view body = msg.body.text();
    const bool text = is_printable_text(body);
    const nlohmann::ordered_json line = {
        {"op", op_code_name(h.proto.op_code)},
        {"op_code", static_cast<unsigned>(h.proto.op_code)},
        {"channel", h.channel_number},
        {"message_id", h.message_id},
        {"more", msg.has_more()},
        {"origin", origin_name(msg)},
        {"status", status_name(h.status)},
        {"headers", std::move(headers)},
        {"body_size", msg.body.size()},
        {"body_encoding", text ? "text" : "hex"},
        {"body", text ? std::string{body} : hex(body)},
    };
    // Header bytes that are not UTF-8 become U+FFFD instead of failing the whole line.
    return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void print_message(const Message& msg, OutputFormat format, std::FILE* out) {
    const std::string line = format == OutputFormat::json ? format_json(msg) : format_text(msg);
    std::fwrite(line.data(), 1, line.size(), out);
    std::fputc('\n', out);
    std::fflush(out);
}

}  // namespace tofu::cli

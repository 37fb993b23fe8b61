#include "print.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <tofu/dump.hpp>
#include <tofu/message.hpp>
#include <tofu/status.hpp>

namespace tofu::cli {
namespace {

unsigned byte_at(std::string_view s, std::size_t i) noexcept {
    return static_cast<unsigned char>(s[i]);
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

std::string_view origin_name(const Message& msg) noexcept {
    return msg.is_from_engine() ? "engine" : "application";
}

}  // namespace

std::string format_text(const Message& msg, std::size_t max_body) {
    // The library's line; 0 shows the body whole.
    return tofu::to_string(msg, max_body == 0 ? std::numeric_limits<std::size_t>::max() : max_body);
}

std::string format_json(const Message& msg) {
    const BinaryHeader& h = msg.bhdr;
    nlohmann::ordered_json headers = nlohmann::ordered_json::array();
    for (const TextHeader header : msg.thdrs) {
        headers.push_back({{"name", header.name}, {"value", header.value}});
    }
    const std::string_view body = msg.body.text();
    const bool text = tofu::is_printable_text(body);  // the rule the text line uses
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

void print_message(const Message& msg, const PrintStyle& style, std::FILE* out) {
    const std::string line =
        style.format == OutputFormat::json ? format_json(msg) : format_text(msg, style.max_body);
    std::fwrite(line.data(), 1, line.size(), out);
    std::fputc('\n', out);
    std::fflush(out);
}

}  // namespace tofu::cli

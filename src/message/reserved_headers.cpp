#include "message/reserved_headers.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "message/message_access.hpp"
#include "message/text.hpp"

namespace tofu::detail {
namespace {

constexpr std::string_view line_break = "\r\n";
constexpr std::string_view cut_mark = "...";

/// Keeps the lines `keep` accepts (it sees each line's header, or nothing for a line readers
/// skip), in place: a kept line keeps its bytes, line break included, and moves up over the
/// dropped ones. Nothing moves until the first line goes.
template <class Keep>
void keep_lines(TextHeaders& headers, const Keep& keep) noexcept {
    ByteBuffer& buf = MessageAccess::headers_buffer(headers);
    const std::size_t size = buf.size();
    char* const text =
        reinterpret_cast<char*>(buf.resize_for_overwrite(size).data());  // same size: no growth
    std::size_t read = 0;
    std::size_t write = 0;
    while (read < size) {
        const std::string_view rest{text + read, size - read};
        const std::size_t eol = rest.find('\n');
        const std::size_t length = eol == std::string_view::npos ? rest.size() : eol + 1;
        if (keep(parse_header_line(rest.substr(0, eol)))) {
            if (write != read) {
                std::memmove(text + write, text + read, length);
            }
            write += length;
        }
        read += length;
    }
    if (write != size) {
        (void)buf.resize_for_overwrite(write);  // smaller: no growth
    }
}

bool is_escaped(char c) noexcept {
    return c == '\r' || c == '\n';
}

/// The bytes `value` takes once CR and LF are escaped.
std::size_t escaped_size(std::string_view value) noexcept {
    std::size_t n = value.size();
    for (const char c : value) {
        n += is_escaped(c) ? 1 : 0;
    }
    return n;
}

/// The longest start of `value` that takes at most `room` bytes escaped, not ending inside a UTF-8
/// sequence.
std::string_view fitting_start(std::string_view value, std::size_t room) noexcept {
    std::size_t used = 0;
    std::size_t i = 0;
    for (; i < value.size(); ++i) {
        const std::size_t width = is_escaped(value[i]) ? 2 : 1;
        if (used + width > room) {
            break;
        }
        used += width;
    }
    while (i > 0 && i < value.size() && (static_cast<unsigned char>(value[i]) & 0xC0U) == 0x80U) {
        --i;  // a continuation byte: the character it belongs to goes whole
    }
    return value.substr(0, i);
}

void put(ByteBuffer& buf, std::string_view s) {
    buf.append(std::as_bytes(std::span{s}));
}

void put_escaped(ByteBuffer& buf, std::string_view value) {
    std::size_t from = 0;
    for (std::size_t i = 0; i < value.size(); ++i) {
        if (is_escaped(value[i])) {
            put(buf, value.substr(from, i - from));
            put(buf, value[i] == '\r' ? "\\r" : "\\n");
            from = i + 1;
        }
    }
    put(buf, value.substr(from));
}

/// Writes the header, cutting its value to fit when `cut` allows; false when it does not fit.
bool write_header(TextHeaders& headers, std::string_view name, std::string_view value, bool cut) noexcept {
    // A block may end without a line break (a peer's, read tolerantly): an LF first, so that the
    // new header cannot run on from that last line.
    const bool separate = !headers.empty() && headers.text().back() != '\n';
    const std::size_t fixed = headers.size() + (separate ? 1 : 0) + name.size() + 1 + line_break.size();
    if (fixed > max_part_size) {
        return false;
    }
    const std::size_t room = max_part_size - fixed;
    std::string_view shown = value;
    std::size_t needed = escaped_size(value);
    const bool cutting = needed > room;
    if (cutting) {
        if (!cut || room < cut_mark.size()) {
            return false;
        }
        shown = fitting_start(value, room - cut_mark.size());
        needed = escaped_size(shown) + cut_mark.size();
    }
    ByteBuffer& buf = MessageAccess::headers_buffer(headers);
    try {
        buf.reserve(fixed + needed);  // the only step that can fail (memory); the rest fits
    } catch (...) {
        return false;
    }
    if (separate) {
        put(buf, "\n");
    }
    put(buf, name);
    put(buf, ":");
    put_escaped(buf, shown);
    if (cutting) {
        put(buf, cut_mark);
    }
    put(buf, line_break);
    return true;
}

}  // namespace

void clean_received_headers(TextHeaders& headers) noexcept {
    keep_lines(headers, [](const std::optional<TextHeader>& h) { return h && !is_reserved_header(h->name); });
}

void drop_header(TextHeaders& headers, std::string_view name) noexcept {
    keep_lines(headers, [name](const std::optional<TextHeader>& h) { return !h || !iequals(h->name, name); });
}

void drop_reserved_headers(TextHeaders& headers) noexcept {
    keep_lines(headers,
               [](const std::optional<TextHeader>& h) { return !h || !is_reserved_header(h->name); });
}

bool append_header(TextHeaders& headers, std::string_view name, std::string_view value) noexcept {
    return write_header(headers, name, value, false);
}

bool append_truncated(TextHeaders& headers, std::string_view name, std::string_view value) noexcept {
    return write_header(headers, name, value, true);
}

bool read_connect_timeout(const TextHeaders& headers, std::chrono::milliseconds& out) noexcept {
    const std::optional<std::string_view> value = headers.find(header::connect_timeout);
    if (!value) {
        return true;
    }
    std::int64_t ms = 0;
    const char* const end = value->data() + value->size();
    const auto [stop, error] = std::from_chars(value->data(), end, ms);
    if (value->empty() || error != std::errc{} || stop != end || ms < 0 || ms > max_connect_timeout_ms) {
        return false;
    }
    out = std::chrono::milliseconds{ms};
    return true;
}

}  // namespace tofu::detail

// Printing messages one per line: as text for people, or as JSON objects for scripts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include <tofu/message.hpp>

namespace tofu::cli {

/// How messages are printed.
enum class OutputFormat : std::uint8_t { text, json };

/// How messages are printed.
struct PrintStyle {
    OutputFormat format = OutputFormat::text;
    std::size_t max_body = 0;  ///< text only: bytes of a body shown, 0 for all
};

/// One line (without the newline), e.g.
/// `Request ch=2 id=7 more=0 origin=application headers{Job="print"} body[5]="hello"`.
/// A status other than success shows as `status=NAME` after the origin; a body that is not
/// printable reads `body[N]=hex:0a1b...`. Quoted text escapes `\ " CR LF TAB` and other bytes as
/// `\xHH`, so a line never breaks. A body longer than `max_body` (unless 0) shows its first
/// `max_body` bytes followed by `...` (after the closing quote, or after the hex digits); `[N]`
/// is always the whole size, and text or hex is chosen for the whole body.
[[nodiscard]] std::string format_text(const Message& msg, std::size_t max_body = 0);

/// One JSON object (without the newline) with the fields op, op_code, channel, message_id, more,
/// origin, status, headers (array of {name, value}), body_size, body_encoding ("text" or "hex") and
/// body.
[[nodiscard]] std::string format_json(const Message& msg);

/// Writes `msg` as one line in `style` to `out` and flushes, so a reader of a pipe sees it at once.
void print_message(const Message& msg, const PrintStyle& style, std::FILE* out = stdout);

}  // namespace tofu::cli

/// @file
/// Readable dumps: one line per message or binary header, for logs and debugging (the Zig tofu's
/// `dumpMeta`). The `tofu` command-line tool prints messages with the same function.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>
#include <string_view>

#include <tofu/message.hpp>

namespace tofu {

/// Body bytes `to_string(const Message&)` shows before it cuts the rest off.
inline constexpr std::size_t dump_body_limit = 64;

/// The binary header as one line: `OP ch=CHANNEL id=MESSAGE_ID more=0|1 origin=application|engine`,
/// then ` status=NAME` when the status is not `success`. E.g.
/// `Signal ch=2 id=0 more=0 origin=engine status=channel_closed`.
[[nodiscard]] std::string to_string(const BinaryHeader& hdr);

/// The message as one line: the binary header as above, then `headers{NAME="VALUE" ...}` and
/// `body[SIZE]=BODY`. E.g.
/// `Request ch=7 id=42 more=1 origin=application headers{Job="print"} body[11]="hello, tofu"`.
///
/// A line never breaks and its fields cannot be forged: header names and values escape `\`, `"`,
/// CR, LF and TAB as `\\`, `\"`, `\r`, `\n`, `\t`, other control bytes and bytes that are not UTF-8
/// as `\xHH` (names also escape space, `=`, `{` and `}`). `BODY` is `"TEXT"` (escaped the same way)
/// when `is_printable_text` holds for the whole body, else `hex:` and two lowercase hex digits per
/// byte. Only the first `max_body` bytes are shown (text is cut at a character's start, never
/// inside it); when some are left out, `...` follows the closing quote or the last hex digit.
/// Text headers are shown whole (at most 65,535 bytes).
[[nodiscard]] std::string to_string(const Message& msg, std::size_t max_body = dump_body_limit);

/// Writes `to_string(hdr)`.
std::ostream& operator<<(std::ostream& out, const BinaryHeader& hdr);

/// Writes `to_string(msg)`: the body cut at `dump_body_limit` bytes.
std::ostream& operator<<(std::ostream& out, const Message& msg);

/// True when `bytes` is well-formed UTF-8 (RFC 3629) without control characters other than TAB,
/// CR and LF: the rule by which `to_string` shows a body as text rather than hex.
[[nodiscard]] bool is_printable_text(std::string_view bytes) noexcept;

}  // namespace tofu

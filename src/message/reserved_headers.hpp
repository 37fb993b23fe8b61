// The engine's own edits of text headers. Reserved (`~`) headers are written by the engine only:
// what a peer sends under those names is dropped before the application sees it. None of these
// edits can throw or grow a block past its limit: they run on the engine thread, on blocks a peer
// chose (docs/reliability.md, "The engine's own headers").
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include <tofu/message.hpp>

namespace tofu::detail {

/// Drops what a received frame may not hand the application: every `~` header (the engine's to
/// write) and every line a reader skips (empty, without a colon or a name, or with a stray CR).
/// Kept lines keep their bytes (a peer's bare-LF line stays bare LF), so the block only shrinks.
/// Costs one scan when nothing goes.
void clean_received_headers(TextHeaders& headers) noexcept;

/// Removes every header called `name` (matched as `TextHeaders::find` matches); the other lines
/// keep their bytes, so the block only shrinks.
void drop_header(TextHeaders& headers, std::string_view name) noexcept;

/// Removes every `~` header (what the engine consumed of a HelloRequest before it goes on the
/// wire); the other lines, those a reader skips included, keep their bytes.
void drop_reserved_headers(TextHeaders& headers) noexcept;

/// Appends `name:value` CR LF for the engine; `name` is one of the engine's own. CR and LF in
/// `value` are written as the two characters `\r` and `\n`, so a value can never split into two
/// headers. False, with `headers` unchanged, when the block would pass 65535 bytes (or memory for
/// it cannot be had).
[[nodiscard]] bool append_header(TextHeaders& headers, std::string_view name,
                                 std::string_view value) noexcept;

/// As `append_header`, but a value longer than the room left is cut to fit, ending in "...". For
/// the engine's words (`~detail`), which are worth having in part. False only when not even the
/// name and a few bytes fit.
bool append_truncated(TextHeaders& headers, std::string_view name, std::string_view value) noexcept;

/// The longest `~connect_timeout` a HelloRequest may ask for, in milliseconds (about 24.8 days).
inline constexpr std::int64_t max_connect_timeout_ms = 2147483647;

/// Reads a HelloRequest's `~connect_timeout` (`header::connect_timeout`: whole milliseconds, 0 to
/// `max_connect_timeout_ms`) into `out`, which stays as it is when the header is absent. False
/// when the header is there and its value is anything else.
[[nodiscard]] bool read_connect_timeout(const TextHeaders& headers, std::chrono::milliseconds& out) noexcept;

/// On a HelloRequest on the wire: its engine confirms what it receives and understands
/// confirmations (value `1`). Written by the client's engine, read and dropped by the server's.
inline constexpr std::string_view confirm_header = "~confirm";

}  // namespace tofu::detail

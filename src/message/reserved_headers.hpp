// Reserved (`~`) text headers are written by the engine only: what a peer sends under those names
// is dropped before the application sees it.
#pragma once

#include <string_view>

#include <tofu/message.hpp>

namespace tofu::detail {

/// Removes every header whose name starts with `~`. Costs one scan when there is none.
void drop_reserved_headers(TextHeaders& headers);

/// Removes every header called `name` (matched as `TextHeaders::find` matches).
void drop_header(TextHeaders& headers, std::string_view name);

/// On a HelloRequest on the wire: its engine confirms what it receives and understands
/// confirmations (value `1`). Written by the client's engine, read and dropped by the server's.
inline constexpr std::string_view confirm_header = "~confirm";

}  // namespace tofu::detail

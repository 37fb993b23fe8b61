// Reserved (`~`) text headers are written by the engine only: what a peer sends under those names
// is dropped before the application sees it.
#pragma once

#include <tofu/message.hpp>

namespace tofu::detail {

/// Removes every header whose name starts with `~`. Costs one scan when there is none.
void drop_reserved_headers(TextHeaders& headers);

}  // namespace tofu::detail

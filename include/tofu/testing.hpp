/// @file
/// Helpers for tests and examples: a free TCP port and a unique UDS path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tofu::testing {

/// A TCP port on 127.0.0.1 that nobody listens on right now (the OS picks it). Another process
/// may take it before you do; bind promptly.
[[nodiscard]] std::uint16_t find_free_tcp_port();

/// A path for a Unix domain socket that does not exist yet, in the temporary directory (`TMPDIR`,
/// else `/tmp`), unique across processes and calls, and short enough for `sockaddr_un`.
[[nodiscard]] std::string temp_uds_path(std::string_view prefix = "tofu");

/// A Linux abstract socket name (`@...`), unique across processes and calls.
[[nodiscard]] std::string temp_abstract_name(std::string_view prefix = "tofu");

}  // namespace tofu::testing

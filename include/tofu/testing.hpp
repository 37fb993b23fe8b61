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
/// else `/tmp`; on Windows `%TMP%`), unique across processes and calls, and short enough for
/// `sockaddr_un`.
[[nodiscard]] std::string temp_uds_path(std::string_view prefix = "tofu");

/// Whether this system can make Unix domain sockets at all: Linux, macOS, BSD and Windows 10 RS4
/// can; Wine cannot (it has no AF_UNIX). Tests and examples use it to skip UDS with a reason.
[[nodiscard]] bool uds_supported();

/// A Linux abstract socket name (`@...`), unique across processes and calls.
[[nodiscard]] std::string temp_abstract_name(std::string_view prefix = "tofu");

}  // namespace tofu::testing

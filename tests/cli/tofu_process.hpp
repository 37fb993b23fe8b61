// Running the `tofu` tool under test: one-shot runs, servers that announce where they listen,
// addresses for each transport, temporary files, and reading its text output back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cli/child_process.hpp"

namespace tofu::cli_test {

/// Path of the tofu binary built with this test (from CMake).
[[nodiscard]] std::string tofu_path();

/// Starts `tofu ARGS...`.
[[nodiscard]] std::unique_ptr<ChildProcess> start_tofu(const std::vector<std::string>& args);

/// A finished run of the tool.
struct TofuRun {
    int exit_code = -1;
    std::string out;
    std::string err;
};

/// Runs `tofu ARGS...` to its end, with `stdin_data` on its stdin (then end of file).
[[nodiscard]] TofuRun run_tofu(const std::vector<std::string>& args, const std::string& stdin_data = {});

/// A `tofu listen` or `tofu echo` that has announced where it listens. When it dies it stops a
/// server still running with SIGTERM (so a UDS socket file is removed) and waits for it; the child
/// is killed should that fail.
struct RunningServer {
    std::unique_ptr<ChildProcess> process;
    std::string url;  ///< from "tofu: listening on URL": with the real port when 0 was asked for

    RunningServer(std::unique_ptr<ChildProcess> child, std::string listening_on)
        : process{std::move(child)}, url{std::move(listening_on)} {}
    RunningServer(const RunningServer&) = delete;
    RunningServer& operator=(const RunningServer&) = delete;
    RunningServer(RunningServer&&) noexcept = default;
    RunningServer& operator=(RunningServer&&) noexcept = default;
    ~RunningServer();
};

/// Starts `tofu ARGS...` (listen or echo) and reads its first stderr line.
[[nodiscard]] RunningServer start_server(const std::vector<std::string>& args);

/// The stream transports the tool can listen on.
enum class Transport : std::uint8_t { tcp4, tcp6, uds_path, uds_abstract };

/// Every transport this machine offers (IPv6 loopback and Linux abstract sockets when present).
[[nodiscard]] std::vector<Transport> available_transports();

/// UDS on a filesystem path where this system has UDS, else TCP over IPv4 (Wine has no AF_UNIX).
[[nodiscard]] Transport uds_or_tcp4();

/// "tcp4", "tcp6", "uds_path", "uds_abstract".
[[nodiscard]] std::string transport_name(Transport transport);

/// Test-name suffix for `INSTANTIATE_TEST_SUITE_P`.
[[nodiscard]] std::string transport_test_name(const ::testing::TestParamInfo<Transport>& info);

/// A fresh address to listen on: TCP port 0 on the loopback, a new UDS path or abstract name.
[[nodiscard]] std::string listen_url(Transport transport);

/// A temporary file with the given bytes, removed when this object dies.
class TempFile {
public:
    explicit TempFile(std::string_view bytes);
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    TempFile(TempFile&&) = delete;
    TempFile& operator=(TempFile&&) = delete;
    ~TempFile();

    [[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
    std::string path_;
};

/// `n` bytes of a pattern that is not text (so the tool prints it as hex) and differs per `seed`.
[[nodiscard]] std::string binary_pattern(std::size_t n, std::uint32_t seed);

/// The lines of `text` without their newlines.
[[nodiscard]] std::vector<std::string> lines_of(std::string_view text);

/// The fields of one line of the tool's text output:
/// `OP ch=N id=N more=0|1 origin=WHO [status=NAME] headers{...} body[N]=...`.
struct TextLine {
    std::string op;
    std::uint16_t channel = 0;
    std::uint64_t id = 0;
    bool more = false;
    std::string origin;
    std::string status;   ///< empty for success
    std::string headers;  ///< between the braces, as printed
    std::size_t body_size = 0;
    std::string body;        ///< the bytes: a quoted text unescaped, or hex decoded
    bool truncated = false;  ///< the line showed only the first bytes of the body (`...` after them)
};

/// Reads one line of the text output; nothing when it does not have that shape.
[[nodiscard]] std::optional<TextLine> parse_text_line(std::string_view line);

/// Decodes lowercase or uppercase hex digits; nothing when `hex` is not hex.
[[nodiscard]] std::optional<std::string> hex_decode(std::string_view hex);

}  // namespace tofu::cli_test

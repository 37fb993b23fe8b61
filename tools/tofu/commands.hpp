// The subcommands of the tofu tool, as plain options and the functions that run them. main.cpp
// reads the command line into these (it is the one file that uses CLI11).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tls_flags.hpp"

namespace tofu::cli {

/// How many bytes of a body a text line shows by default (`--max-body`).
inline constexpr std::size_t default_max_body = 256;

/// `tofu listen ADDR [--json] [--count N] [--max-body BYTES] [--tls-*]`: print what clients send.
struct ListenOptions {
    std::string url;
    TlsOptions tls{};  ///< --tls-cert, --tls-key, --tls-ca
    bool json = false;
    std::uint64_t count = 0;  ///< whole messages (every part of one sent in parts); 0: no limit
    std::size_t max_body = default_max_body;  ///< text output: bytes of a body shown; 0: all
};
[[nodiscard]] int run_listen(const ListenOptions& options);

/// `tofu send ADDR [--request|--signal] [--header NAME:VALUE]... [--data TEXT | --file PATH]
/// [--json] [--max-body BYTES] [--tls-*]`.
struct SendOptions {
    std::string url;
    TlsOptions tls{};      ///< --tls-cert, --tls-key, --tls-ca
    bool request = false;  ///< else a Signal
    std::vector<std::string> headers;
    std::string data;
    bool data_given = false;  ///< `--data` was given (perhaps empty)
    std::string file;
    bool file_given = false;  ///< `--file` was given; with neither, the data comes from stdin
    bool json = false;
    std::size_t max_body = default_max_body;  ///< text output: bytes of a body shown; 0: all
};
[[nodiscard]] int run_send(const SendOptions& options);

/// `tofu echo ADDR [--tls-*]`: answer every client with what it sent.
struct EchoOptions {
    std::string url;
    TlsOptions tls{};  ///< --tls-cert, --tls-key, --tls-ca
};
[[nodiscard]] int run_echo(const EchoOptions& options);

}  // namespace tofu::cli

// The subcommands of the tofu tool, each registered on the top-level CLI11 app by main.cpp.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace tofu::cli {

/// A registered subcommand and what runs it once the command line has been parsed.
struct Command {
    CLI::App* app = nullptr;
    std::function<int()> run;  ///< returns the process exit code
};

/// `tofu listen ADDR [--json] [--count N]`: print what clients send.
[[nodiscard]] Command add_listen_command(CLI::App& parent);

/// `tofu send ADDR [--request|--signal] [--header NAME:VALUE]... [--data TEXT | --file PATH]`.
[[nodiscard]] Command add_send_command(CLI::App& parent);

/// `tofu echo ADDR`: answer every client with what it sent.
[[nodiscard]] Command add_echo_command(CLI::App& parent);

}  // namespace tofu::cli

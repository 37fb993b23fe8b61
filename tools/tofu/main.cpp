// The tofu command-line tool.
#include <cstdio>
#include <exception>
#if defined(_WIN32)
#include <fcntl.h>
#include <io.h>
#endif
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <tofu/tofu.hpp>

#include "commands.hpp"
#include "demo.hpp"
#include "errors.hpp"

namespace {

int run(int argc, char** argv) {
    CLI::App app{"tofu: asynchronous peer-to-peer messaging over TCP and Unix domain sockets"};
    app.set_version_flag("--version", std::string{"tofu "} + tofu::version_string);
    app.require_subcommand(1);
    app.footer(std::string{tofu::cli::exit_codes_help});  // subcommands inherit it

    CLI::App* demo = app.add_subcommand("demo", "Run the demonstration and check its results");
    const std::vector<tofu::cli::Command> commands{
        tofu::cli::add_listen_command(app),
        tofu::cli::add_send_command(app),
        tofu::cli::add_echo_command(app),
    };

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version end here with 0; every mistake on the command line is a usage error.
        return app.exit(e) == 0 ? tofu::cli::exit_success : tofu::cli::exit_usage;
    }

    if (demo->parsed()) {
        return tofu::cli::run_demo();
    }
    for (const tofu::cli::Command& command : commands) {
        if (command.app->parsed()) {
            return tofu::cli::run_command(command.run);
        }
    }
    return tofu::cli::exit_success;
}

}  // namespace

int main(int argc, char** argv) {
#if defined(_WIN32)
    // The same bytes on every OS: no CR added before each LF on output (JSON lines, bodies,
    // scripts reading them), none taken away and no Ctrl+Z end of file on input (--data from stdin).
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
    _setmode(_fileno(stderr), _O_BINARY);
#endif
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tofu: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "tofu: unknown error\n");
    }
    return 1;
}

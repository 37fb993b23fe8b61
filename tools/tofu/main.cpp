// The tofu command-line tool.
#include <CLI/CLI.hpp>

#include <tofu/tofu.hpp>

#include "demo.hpp"

int main(int argc, char** argv) {
    CLI::App app{"tofu: asynchronous peer-to-peer messaging over TCP and Unix domain sockets"};
    app.set_version_flag("--version", std::string{"tofu "} + tofu::version_string);
    app.require_subcommand(1);

    CLI::App* demo = app.add_subcommand("demo", "Run the demonstration and check its results");

    CLI11_PARSE(app, argc, argv);

    if (demo->parsed()) {
        return tofu::cli::run_demo();
    }
    return 0;
}

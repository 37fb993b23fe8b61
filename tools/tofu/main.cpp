// The tofu command-line tool.
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include <tofu/tofu.hpp>

#include "demo.hpp"

namespace {

int run(int argc, char** argv) {
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

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tofu: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "tofu: unknown error\n");
    }
    return 1;
}

// The tofu command-line tool: the command line of every subcommand, read by CLI11 (only here: it
// is the costliest header to compile), then the subcommand run.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
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

using namespace tofu::cli;

/// `text` with its line breaks turned into spaces: an error is one line.
std::string one_line(std::string text) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    return text;
}

/// A subcommand on the command line and what runs it once that has been parsed.
struct Command {
    CLI::App* app = nullptr;
    std::function<int()> run;  ///< returns the process exit code
};

constexpr const char* server_address_help =
    "Where to listen: tcp://HOST:PORT (PORT 0: the OS picks one), tcp://[IPv6]:PORT, "
    "tls://HOST:PORT (TCP with TLS: needs --tls-cert and --tls-key), uds:///path/to.sock or "
    "uds://@name";

/// The certificate flags; they apply to tls:// addresses only.
void add_tls_flags(CLI::App& app, tofu::TlsOptions& tls, bool server) {
    app.add_option("--tls-cert", tls.certificate_chain,
                   server ? "tls://: this server's certificate chain (PEM file), required"
                          : "tls://: this client's certificate chain (PEM file), for a server that "
                            "asks for one (mutual TLS)")
        ->type_name("FILE");
    app.add_option("--tls-key", tls.private_key, "tls://: the private key of --tls-cert (PEM file)")
        ->type_name("FILE");
    app.add_option("--tls-ca", tls.ca,
                   server ? "tls://: require client certificates signed by these CAs (PEM file, "
                            "or a directory prepared by openssl rehash)"
                          : "tls://: trust the server certificates these CAs signed (PEM file, or "
                            "a directory prepared by openssl rehash; default: the system's store); "
                            "the certificate must also name HOST")
        ->type_name("FILE_OR_DIR");
}

void add_max_body(CLI::App& app, std::size_t& max_body) {
    app.add_option("--max-body", max_body,
                   "Show at most this many bytes of a body, then '...' (text output; 0: all)")
        ->default_val(default_max_body)
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 30));  // read signed: -1 must not wrap
}

Command add_listen(CLI::App& parent) {
    auto options = std::make_shared<ListenOptions>();
    CLI::App* app = parent.add_subcommand(
        "listen",
        "Listen, accept every client and print every message received, one per line. Requests are "
        "answered with an empty Response. The first line on stderr says where it listens.");
    app->add_option("address", options->url, server_address_help)->required();
    app->add_flag("--json", options->json, "Print one JSON object per line");
    app->add_option("--count", options->count,
                    "Exit after N data messages (Request, Response, Signal); a message sent in parts "
                    "counts once, after its last part")
        ->check(CLI::PositiveNumber);
    add_max_body(*app, options->max_body);
    add_tls_flags(*app, options->tls, true);
    return Command{app, [options] { return run_listen(*options); }};
}

Command add_send(CLI::App& parent) {
    auto options = std::make_shared<SendOptions>();
    CLI::App* app = parent.add_subcommand(
        "send",
        "Connect, send the data as one Signal or Request, print the answers (every Request, Response "
        "or Signal the peer sends back), then close gracefully. Data over 65535 bytes is sent in "
        "parts with the same message id and 'more' set on all but the last.");
    app->add_option("address", options->url,
                    "Where to connect: tcp://HOST:PORT, tcp://[IPv6]:PORT, tls://HOST:PORT (TCP with TLS), "
                    "uds:///path/to.sock or uds://@name")
        ->required();
    CLI::Option* request =
        app->add_flag("--request", options->request, "Send a Request and wait for its Response");
    CLI::Option* signal = app->add_flag("--signal")->description("Send a Signal (the default)");
    request->excludes(signal);
    app->add_option("--header", options->headers, "A text header NAME:VALUE, for the first part (repeatable)")
        ->allow_extra_args(false);
    CLI::Option* data = app->add_option("--data", options->data, "The data to send, as given");
    CLI::Option* file = app->add_option("--file", options->file, "Send the bytes of this file");
    data->excludes(file);
    app->add_flag("--json", options->json, "Print the answers as one JSON object per line");
    add_max_body(*app, options->max_body);
    add_tls_flags(*app, options->tls, false);
    app->footer(std::string{"Without --data or --file the data is read from stdin until end of file.\n"} +
                std::string{exit_codes_help});
    return Command{app, [options, data, file] {
                       options->data_given = data->count() > 0;
                       options->file_given = file->count() > 0;
                       return run_send(*options);
                   }};
}

Command add_echo(CLI::App& parent) {
    auto options = std::make_shared<EchoOptions>();
    CLI::App* app = parent.add_subcommand(
        "echo",
        "Echo server: answers every Request with a Response and every Signal with a Signal carrying "
        "the same message id, text headers and body. The first line on stderr says where it listens.");
    app->add_option("address", options->url, server_address_help)->required();
    add_tls_flags(*app, options->tls, true);
    return Command{app, [options] { return run_echo(*options); }};
}

int run(int argc, char** argv) {
    // Named, so the usage line reads "tofu", not the path the binary was started by.
    CLI::App app{"tofu: asynchronous peer-to-peer messaging over TCP, TLS and Unix domain sockets", "tofu"};
    app.set_version_flag("--version", std::string{"tofu "} + tofu::version_string);
    app.require_subcommand(1);
    app.footer(std::string{exit_codes_help});  // subcommands inherit it

    CLI::App* demo = app.add_subcommand("demo", "Run the demonstration and check its results");
    const std::vector<Command> commands{add_listen(app), add_send(app), add_echo(app)};

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) {
            return app.exit(e);  // --help, --version: printed on stdout
        }
        // Every mistake on the command line is a usage error, one line as every error of the tool.
        std::fprintf(stderr, "tofu: %s (see --help)\n", one_line(e.what()).c_str());
        return exit_usage;
    }

    if (demo->parsed()) {
        return run_demo();
    }
    for (const Command& command : commands) {
        if (command.app->parsed()) {
            return run_command(command.run);
        }
    }
    return exit_success;
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

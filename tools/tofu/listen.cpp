// `tofu listen ADDR [--json] [--count N]`: accept every client and print every message received.
#include <cstdint>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include <tofu/address.hpp>
#include <tofu/message.hpp>

#include "commands.hpp"
#include "print.hpp"
#include "server.hpp"
#include "url.hpp"

namespace tofu::cli {
namespace {

struct ListenOptions {
    std::string url;
    bool json = false;
    std::uint64_t count = 0;  ///< 0: no limit
};

bool is_data_from_peer(const Message& msg) noexcept {
    return !msg.is_from_engine() && msg.bhdr.proto.type() == MessageType::regular;
}

/// Answers a complete Request (its last part) with an empty Response, so a client waiting for an
/// answer is not left hanging.
bool acknowledge(Message& msg) {
    if (msg.bhdr.proto.op_code != OpCode::request || msg.has_more()) {
        return false;
    }
    msg.bhdr.proto.op_code = OpCode::response;
    msg.thdrs.reset();
    msg.body.reset();
    return true;
}

int run_listen(const ListenOptions& options) {
    const Address address = address_from_url(options.url, AddressRole::server);
    const OutputFormat format = options.json ? OutputFormat::json : OutputFormat::text;
    std::uint64_t data_messages = 0;
    ServerHooks hooks;
    hooks.observe = [&](const Message& msg) {
        print_message(msg, format);
        if (is_data_from_peer(msg)) {
            ++data_messages;
        }
    };
    hooks.answer = acknowledge;
    hooks.done = [&] { return options.count != 0 && data_messages >= options.count; };
    return run_server(address, options.url, hooks);
}

}  // namespace

Command add_listen_command(CLI::App& parent) {
    auto options = std::make_shared<ListenOptions>();
    CLI::App* app = parent.add_subcommand(
        "listen",
        "Listen, accept every client and print every message received, one per line. Requests are "
        "answered with an empty Response. The first line on stderr says where it listens.");
    app->add_option("address", options->url,
                    "Where to listen: tcp://HOST:PORT (PORT 0: the OS picks one), tcp://[IPv6]:PORT, "
                    "uds:///path/to.sock or uds://@name")
        ->required();
    app->add_flag("--json", options->json, "Print one JSON object per line");
    app->add_option("--count", options->count, "Exit after N data messages (Request, Response, Signal)")
        ->check(CLI::PositiveNumber);
    return Command{app, [options] { return run_listen(*options); }};
}

}  // namespace tofu::cli

// `tofu echo ADDR`: an echo server for many clients.
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include <tofu/address.hpp>
#include <tofu/message.hpp>

#include "commands.hpp"
#include "server.hpp"
#include "url.hpp"

namespace tofu::cli {
namespace {

/// Request becomes Response, Signal stays Signal; the id, text headers, body and `more` are kept.
bool echo_back(Message& msg) {
    if (msg.bhdr.proto.op_code == OpCode::response) {
        return false;  // a response is not answered
    }
    msg.bhdr.proto.op_code = echo(msg.bhdr.proto.op_code);
    return true;
}

int run_echo(const std::string& url) {
    const Address address = address_from_url(url, AddressRole::server);
    ServerHooks hooks;
    hooks.answer = echo_back;
    return run_server(address, url, hooks);
}

}  // namespace

Command add_echo_command(CLI::App& parent) {
    auto url = std::make_shared<std::string>();
    CLI::App* app = parent.add_subcommand(
        "echo",
        "Echo server: answers every Request with a Response and every Signal with a Signal carrying "
        "the same message id, text headers and body. The first line on stderr says where it listens.");
    app->add_option("address", *url,
                    "Where to listen: tcp://HOST:PORT (PORT 0: the OS picks one), tcp://[IPv6]:PORT, "
                    "uds:///path/to.sock or uds://@name")
        ->required();
    return Command{app, [url] { return run_echo(*url); }};
}

}  // namespace tofu::cli

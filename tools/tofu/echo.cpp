// `tofu echo ADDR`: an echo server for many clients.
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

}  // namespace

int run_echo(const EchoOptions& options) {
    const Address address = address_from_url(options.url, AddressRole::server);
    ServerHooks hooks;
    hooks.answer = echo_back;
    return run_server(address, options.url, options.tls, hooks);
}

}  // namespace tofu::cli

// `tofu listen ADDR [--json] [--count N] [--max-body BYTES]`: accept every client and print every message
// received.
#include <cstdint>

#include <tofu/address.hpp>
#include <tofu/message.hpp>

#include "commands.hpp"
#include "print.hpp"
#include "server.hpp"
#include "url.hpp"

namespace tofu::cli {
namespace {

/// True for the last (or only) part of a Request, Response or Signal from a client: a message
/// sent in parts counts once, so `--count` never stops inside it.
bool ends_data_message_from_peer(const Message& msg) noexcept {
    return !msg.is_from_engine() && msg.bhdr.proto.type() == MessageType::regular && !msg.has_more();
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

}  // namespace

int run_listen(const ListenOptions& options) {
    const Address address = address_from_url(options.url, AddressRole::server);
    const PrintStyle style{options.json ? OutputFormat::json : OutputFormat::text, options.max_body};
    std::uint64_t data_messages = 0;
    ServerHooks hooks;
    hooks.observe = [&](const Message& msg) {
        print_message(msg, style);
        if (ends_data_message_from_peer(msg)) {
            ++data_messages;
        }
    };
    hooks.answer = acknowledge;
    hooks.done = [&] { return options.count != 0 && data_messages >= options.count; };
    return run_server(address, options.url, options.tls, hooks);
}

}  // namespace tofu::cli

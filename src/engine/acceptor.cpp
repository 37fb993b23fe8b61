#include "engine/acceptor.hpp"

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include <tofu/address.hpp>

#include "engine/loop.hpp"
#include "message/reserved_headers.hpp"
#include "shared/engine_state.hpp"
#include "shared/receive_queue.hpp"

namespace tofu::detail {
namespace {

/// How long a listener that could not accept (out of descriptors, say) rests before it tries again:
/// the pending connection stays readable, so retrying at once would spin.
constexpr auto accept_retry = std::chrono::milliseconds{100};

/// Replaces (or adds) the `~listen_on` header, keeping the others; false when the value does not
/// fit beside them.
bool set_listen_on(Message& msg, const std::string& value) {
    drop_header(msg.thdrs, header::listen_on);
    return append_header(msg.thdrs, header::listen_on, value);
}

std::string filesystem_uds_path(const Address& address) {
    const auto* uds = std::get_if<UdsServerAddress>(&address);
    return uds != nullptr && !uds->path.empty() && uds->path.front() != '@' ? uds->path : std::string{};
}

}  // namespace

void Acceptor::open(ReceiveQueue& group, MessagePtr welcome) {
    Listener& listener = loop_.install(Listener{welcome->bhdr.channel_number, &group, Socket{}});
    welcome->bhdr.proto.op_code = OpCode::welcome_response;  // it comes back as such, however it ends
    const ParsedAddress parsed = parse_address(*welcome);
    if (!parsed) {
        loop_.close(listener, parsed.status, parsed.reason, std::move(welcome));
        return;
    }
    // A host name may keep the resolver busy for seconds: it is looked up on another thread. An IP
    // literal or a UDS path needs no lookup.
    if (std::optional<HostName> name = host_name_of(parsed.address)) {
        listener.welcome = std::move(welcome);
        loop_.resolver().start(listener.number, listener.serial, std::move(name->host), name->port, true);
        return;
    }
    SocketAddress where;
    if (const SocketError e = resolve(parsed.address, where); !e.ok()) {
        loop_.close(listener, e, std::move(welcome));
        return;
    }
    listen(listener, where, parsed.address, std::move(welcome));
}

void Acceptor::on_looked_up(Listener& listener, const LookupResult& result) {
    MessagePtr welcome = std::move(listener.welcome);
    if (!result.error.ok()) {
        loop_.close(listener, result.error.status, result.detail, std::move(welcome));
        return;
    }
    const ParsedAddress parsed = parse_address(*welcome);  // parsed before: it parses again
    listen(listener, result.address, parsed.address, std::move(welcome));
}

void Acceptor::listen(Listener& listener, const SocketAddress& where, const Address& requested,
                      MessagePtr welcome) {
    Socket listening;
    if (const SocketError e = open_listener(where, loop_.settings(), listening); !e.ok()) {
        loop_.close(listener, e, std::move(welcome));  // it comes back with the reason
        return;
    }
    listener.socket = std::move(listening);
    if (std::string path = filesystem_uds_path(requested); !path.empty()) {
        listener.socket_file = SocketFile::bound_at(std::move(path));
    }
    if (!set_listen_on(*welcome, to_string(bound_address(listener.socket, requested)))) {
        loop_.close(listener, AmpeStatus::invalid_headers_len,
                    "no room for the bound address beside the other text headers", std::move(welcome));
        return;
    }
    welcome->bhdr.proto.origin = Origin::engine;
    welcome->bhdr.status = AmpeStatus::success;
    loop_.deliver(*listener.group, std::move(welcome));
    loop_.io().set_interest(listener, Trigger::accept);
}

void Acceptor::adopt(Listener& listener, Socket accepted) {
    ChannelOwners& owners = loop_.engine().owners();
    const std::uint16_t number = owners.claim(listener.group->id(), 0);
    if (number == unassigned_channel) {
        refuse(listener,
               "the engine's limit of " + std::to_string(owners.limit()) + " open channels is reached");
        return;  // `accepted` resets the connection as it goes
    }
    listener.refusing = false;
    Connection& ch = loop_.install(
        Connection{number, Connection::State::awaiting_hello, listener.group, std::move(accepted)});
    ch.listener = listener.number;
    loop_.io().set_interest(ch, Trigger::recv);
    if (const auto timeout = loop_.engine().options().handshake_timeout; timeout.count() > 0) {
        loop_.arm(ch, timeout);
    }
}

void Acceptor::refuse(Listener& listener, std::string_view why) {
    // Once per episode: a flood of refused connections must not become a flood of reports.
    if (std::exchange(listener.refusing, true)) {
        return;
    }
    MessagePtr report =
        loop_.engine().engine_message(OpCode::signal, AmpeStatus::accept_failed, listener.number);
    append_truncated(report->thdrs, header::detail, why);
    loop_.deliver(*listener.group, std::move(report));
}

void Acceptor::rest(Listener& listener, int os_error) {
    // The connection waits in the backlog, where it keeps the listener ready. Rest instead of
    // spinning, then try again.
    refuse(listener, os_error_text(os_error));
    loop_.io().set_interest(listener, {});
    loop_.arm(listener, accept_retry);
}

void Acceptor::rest_over(Listener& listener) {
    loop_.io().set_interest(listener, Trigger::accept);
}

}  // namespace tofu::detail

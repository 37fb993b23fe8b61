#include "engine/acceptor.hpp"

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include <tofu/address.hpp>

#include "engine/loop.hpp"
#include "message/reserved_headers.hpp"
#include "net/tls.hpp"
#include "shared/engine_state.hpp"
#include "shared/receive_queue.hpp"

namespace tofu::detail {
namespace {

/// How long a listener that could not accept (out of descriptors, say) rests before it tries again:
/// the pending connection stays readable, so retrying at once would spin.
constexpr auto accept_retry = std::chrono::milliseconds{100};
/// How often a `tls` listener reports failed handshakes, at most.
constexpr auto failure_report_interval = std::chrono::seconds{1};

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
    if (std::holds_alternative<TlsServerAddress>(parsed.address)) {
        // Certificates are loaded now, before it listens: a listener that cannot serve TLS never does.
        TlsContextResult made =
            make_tls_context(read_tls_settings(loop_.engine().options().tls, welcome->thdrs), true);
        if (made.context == nullptr) {
            loop_.close(listener, made.status, made.why, std::move(welcome));
            return;
        }
        listener.tls = std::move(made.context);
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
    std::unique_ptr<ByteStream> stream;
    if (listener.tls != nullptr && (stream = make_tls_stream(listener.tls, {})) == nullptr) {
        owners.release(number);
        count_failed_handshake(listener, "TLS: cannot make a session (out of memory?)");
        return;  // `accepted` resets the connection as it goes
    }
    Connection& ch = loop_.install(
        Connection{number, Connection::State::awaiting_hello, listener.group, std::move(accepted)});
    ch.listener = listener.number;
    if (stream != nullptr) {
        ch.own_stream = std::move(stream);
        ch.stream = ch.own_stream.get();
    }
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
    listener.resting = true;
    loop_.arm(listener, accept_retry);
}

void Acceptor::on_deadline(Listener& listener) {
    if (std::exchange(listener.resting, false)) {
        loop_.io().set_interest(listener, Trigger::accept);
    }
    report_failed_handshakes(listener);
}

bool Acceptor::count_failed_handshake(const Connection& ch, std::string_view why) {
    Channel* found = loop_.find(ch.listener);
    auto* listener = found != nullptr ? std::get_if<Listener>(found) : nullptr;
    if (listener == nullptr || listener->group != ch.group) {
        return false;  // its listener is gone: the connection's own report says it
    }
    std::string words{why};
    if (const std::string peer = describe_peer(ch.socket); !peer.empty()) {
        words += " (from " + peer + ")";
    }
    count_failed_handshake(*listener, words);
    return true;
}

void Acceptor::count_failed_handshake(Listener& listener, std::string_view why) {
    ++listener.failed_handshakes;
    listener.last_failure = why;
    report_failed_handshakes(listener);
}

void Acceptor::report_failed_handshakes(Listener& listener) {
    // At most one report a second, whatever the peers do: the first at once, the rest counted
    // and told together by the listener's timer.
    if (listener.failed_handshakes == 0 || listener.group == nullptr) {
        return;
    }
    const auto now = Loop::Clock::now();
    const auto next = listener.last_failure_report + failure_report_interval;
    if (listener.last_failure_report != Loop::Clock::time_point{} && now < next) {
        if (!listener.resting && listener.deadline == Loop::Clock::time_point{}) {
            loop_.arm(listener, std::chrono::duration_cast<std::chrono::milliseconds>(next - now) +
                                    std::chrono::milliseconds{1});
        }
        return;
    }
    listener.last_failure_report = now;
    MessagePtr report =
        loop_.engine().engine_message(OpCode::signal, AmpeStatus::accept_failed, listener.number);
    (void)append_header(report->thdrs, header::failed_handshakes,
                        std::to_string(std::exchange(listener.failed_handshakes, 0)));
    (void)append_truncated(report->thdrs, header::detail, listener.last_failure);
    loop_.deliver(*listener.group, std::move(report));
}

}  // namespace tofu::detail

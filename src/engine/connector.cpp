#include "engine/connector.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include <tofu/address.hpp>

#include "engine/loop.hpp"
#include "message/reserved_headers.hpp"
#include "shared/engine_state.hpp"

namespace tofu::detail {
namespace {

/// Where a connect stood when its time ran out, for the report's words.
std::string connect_stage(Connection::State state) {
    switch (state) {
        case Connection::State::resolving: return " (the host name was still being looked up)";
        case Connection::State::connecting: return " (the connect had not completed)";
        default: return {};
    }
}

}  // namespace

void Connector::start(ReceiveQueue& group, MessagePtr hello) {
    Connection& ch = loop_.install(
        Connection{hello->bhdr.channel_number, Connection::State::connecting, &group, Socket{}});
    // The connect timeout runs from here, the lookup and a wait for a lookup thread included.
    std::chrono::milliseconds timeout = loop_.engine().options().connect_timeout;
    (void)read_connect_timeout(hello->thdrs, timeout);  // `post` refused a malformed one
    ch.hello.request = hello->clone();                  // kept whole until the HelloResponse
    ch.hello.timeout = timeout;
    if (timeout.count() > 0) {
        loop_.arm(ch, timeout);
        ch.hello.deadline = ch.deadline;
    }
    const ParsedAddress parsed = parse_address(*hello);
    AmpeStatus tls_status = AmpeStatus::success;
    std::string tls_why;
    const auto* tls = parsed ? std::get_if<TlsClientAddress>(&parsed.address) : nullptr;
    const bool secured = tls == nullptr || secure(ch, *tls, *hello, tls_status, tls_why);
    drop_reserved_headers(hello->thdrs);  // the engine's (`~connect_to`...): not the peer's business
    Confirmations::offer(ch, *hello);
    loop_.sender().enqueue(ch, std::move(hello));  // the HelloRequest is the first frame on the wire
    if (!parsed) {
        loop_.close(ch, parsed.status, parsed.reason);
        return;
    }
    if (!secured) {
        loop_.close(ch, tls_status, tls_why);
        return;
    }
    // A host name may keep the resolver busy for seconds: it is looked up on another thread. An IP
    // literal or a UDS path needs no lookup.
    if (std::optional<HostName> name = host_name_of(parsed.address)) {
        ch.state = Connection::State::resolving;
        loop_.resolver().start(ch.number, ch.serial, std::move(name->host), name->port, false);
        return;
    }
    SocketAddress where;
    if (const SocketError e = resolve(parsed.address, where); !e.ok()) {
        loop_.close(ch, e);
        return;
    }
    connect(ch, where);
}

bool Connector::secure(Connection& ch, const TlsClientAddress& to, const Message& hello, AmpeStatus& status,
                       std::string& why) {
    const TlsOptions& defaults = loop_.engine().options().tls;
    const TlsSettings settings = read_tls_settings(defaults, hello.thdrs);
    // The engine's defaults make one context, shared; a connect with settings of its own makes
    // its own (the files are read again).
    const bool own = settings.options != defaults;
    std::shared_ptr<TlsContext> context = own ? nullptr : default_tls_;
    if (context == nullptr) {
        TlsContextResult made = make_tls_context(settings, false);
        if (made.context == nullptr) {
            status = made.status;
            why = std::move(made.why);
            return false;
        }
        context = std::move(made.context);
        if (!own) {
            default_tls_ = context;
        }
    }
    ch.own_stream = make_tls_stream(context, settings.server_name.empty() ? to.host : settings.server_name);
    if (ch.own_stream == nullptr) {
        status = AmpeStatus::connect_failed;
        why = "TLS: cannot make a session for " + to.host;
        return false;
    }
    ch.stream = ch.own_stream.get();
    return true;
}

void Connector::on_looked_up(Connection& ch, const LookupResult& result) {
    if (!result.error.ok()) {
        loop_.close(ch, result.error.status, result.detail);
        return;
    }
    connect(ch, result.address);
}

void Connector::connect(Connection& ch, const SocketAddress& where) {
    ch.state = Connection::State::connecting;
    loop_.io().begin_connect(ch, where);
}

void Connector::on_hello_response(Connection& ch) {
    if (!ch.hello.awaited()) {
        return;
    }
    ch.hello.request.reset();
    if (ch.hello.deadline != Loop::Clock::time_point{} && ch.deadline == ch.hello.deadline) {
        ch.deadline = {};  // its entry goes stale
    }
    ch.hello.deadline = {};
    if (!ch.out.queue.empty()) {
        loop_.sender().watch_stall(ch);  // it waited for the connect deadline to be over
    }
}

bool Connector::on_deadline(Connection& ch) {
    // The connect deadline is the connection's only timer while the HelloResponse is awaited, but
    // for one that closes it sooner (a drain, a failed write's last words).
    if (!ch.hello.awaited() || ch.hello.deadline == Loop::Clock::time_point{} ||
        Loop::Clock::now() < ch.hello.deadline) {
        return false;
    }
    loop_.close(ch, AmpeStatus::connect_failed,
                "no HelloResponse within " + std::to_string(ch.hello.timeout.count()) + " ms" +
                    connect_stage(ch.state));
    return true;
}

}  // namespace tofu::detail

// A channel as the engine thread sees it: a listener or a connection, two distinct types in one
// variant (as the Zig tofu's `TriggeredSkt` union), so a listener carries no I/O state. What both
// share (their number, socket, timer and backend state) is `Endpoint`. A connection's state is
// split by the part of the loop that owns it: `out` (Sender), `in` (Receiver), `confirms`
// (Confirmations), `hello` (Connector).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include <tofu/message.hpp>

#include "engine/confirm_state.hpp"
#include "engine/hello_wait.hpp"
#include "engine/inflow.hpp"
#include "engine/io_state.hpp"
#include "engine/outbox.hpp"
#include "net/byte_stream.hpp"
#include "net/plain_stream.hpp"
#include "net/socket.hpp"
#include "poller/triggers.hpp"

namespace tofu::detail {

class ReceiveQueue;
class TlsContext;

/// What listeners and connections have in common.
struct Endpoint {
    Endpoint(std::uint16_t n, ReceiveQueue* g, Socket sock) noexcept
        : group{g}, socket{std::move(sock)}, number{n} {}

    ReceiveQueue* group;  ///< null once the application was told the channel closed
    Socket socket;
    /// When the channel's timer fires (see Loop::on_deadline); the default: no timer.
    std::chrono::steady_clock::time_point deadline;
    std::uint32_t serial = 0;  ///< which incarnation of the number (tells a stale completion apart)
    std::uint16_t number;
    Triggers interest;  ///< what the poller waits for now (completion backend: operations in flight)
    IoState io;         ///< what the I/O backend keeps for this socket
};

/// A listening socket: it accepts connections, and that is all. Before it listens it may wait for
/// its host name's lookup (`resolving`), with no socket yet.
struct Listener : Endpoint {
    using Endpoint::Endpoint;

    /// While its host name is looked up: its WelcomeRequest, answered when the lookup ends (or
    /// returned when the listener closes first).
    MessagePtr welcome;
    SocketFile socket_file;  ///< on a filesystem UDS path: removed when it closes, if still its own
    bool refusing = false;   ///< refused a connection since it last accepted one
    bool resting = false;    ///< could not accept: waits for its timer before it accepts again
    /// A `tls` listener: the certificates and checks of every connection it accepts.
    std::shared_ptr<TlsContext> tls;
    /// TLS handshakes that failed since the last report, and when that report went out.
    std::uint32_t failed_handshakes = 0;
    std::chrono::steady_clock::time_point last_failure_report;
    std::string last_failure;  ///< the words of the last one

    /// Its host name is being looked up on another thread: it does not listen yet.
    [[nodiscard]] bool resolving() const noexcept { return welcome != nullptr; }
};

/// A connection to a peer, from its connect (or accept) to its close.
struct Connection : Endpoint {
    enum class State : std::uint8_t {
        resolving,       ///< client: its host name is looked up on another thread; no socket yet
        connecting,      ///< client: non-blocking connect in progress
        awaiting_hello,  ///< server: accepted; the first frame must be HelloRequest
        open,            ///< exchanging messages
        draining,        ///< closed for the application; waiting for the peer's end after our ByeResponse
    };

    Connection(std::uint16_t n, State s, ReceiveQueue* g, Socket sock) noexcept
        : Endpoint{n, g, std::move(sock)}, state{s} {}

    /// How the frames' bytes travel on the socket (net/byte_stream.hpp): the shared plain
    /// stream, or `own_stream`.
    ByteStream* stream = &PlainStream::shared();
    std::unique_ptr<ByteStream> own_stream;  ///< a stream of its own (TLS), when it has one
    Outbox out;
    Inflow in;
    ConfirmState confirms;
    HelloWait hello;  ///< client: the HelloRequest kept until its HelloResponse, the connect deadline
    State state;
    /// Server: the channel number of the listener that accepted it (`~listener` on its Hello).
    std::uint16_t listener = 0;
    /// Draining after our ByeResponse: channel_closed waits until the peer confirmed everything.
    bool report_pending = false;

    /// Its socket is connected (not still resolving or connecting): it may write.
    [[nodiscard]] bool connected() const noexcept {
        return state != State::resolving && state != State::connecting;
    }
};

/// One slot of the loop's channel table.
using Channel = std::variant<Listener, Connection>;

/// The part every channel has.
[[nodiscard]] inline Endpoint& endpoint(Channel& ch) noexcept {
    if (auto* listener = std::get_if<Listener>(&ch)) {
        return *listener;
    }
    return *std::get_if<Connection>(&ch);
}
[[nodiscard]] inline const Endpoint& endpoint(const Channel& ch) noexcept {
    if (const auto* listener = std::get_if<Listener>(&ch)) {
        return *listener;
    }
    return *std::get_if<Connection>(&ch);
}

}  // namespace tofu::detail

// The loop's client connections, from a posted HelloRequest to its HelloResponse: the address, the
// host name's lookup (off the engine thread: engine/resolver.hpp), the connect, and the connect
// timeout. The HelloRequest goes on the wire without the engine's `~` headers (`~connect_to`,
// `~connect_timeout`), and a copy of it as posted is kept until its HelloResponse arrives: if the
// connection closes first, that copy comes back whole (Loop::report_closed), and the frame that
// went on the wire does not come back too.
#pragma once

#include <memory>
#include <string>

#include <tofu/address.hpp>
#include <tofu/message.hpp>

#include "net/socket.hpp"
#include "net/tls.hpp"

namespace tofu::detail {

class Loop;
class ReceiveQueue;
struct Connection;

class Connector {
public:
    explicit Connector(Loop& loop) : loop_{loop} {}

    /// A HelloRequest `group` posted (its channel number claimed): installs its connection and
    /// starts connecting, or closes it at once when the address is no good.
    void start(ReceiveQueue& group, MessagePtr hello);
    /// The host name `ch` waits for was looked up: it connects, or closes with the resolver's words.
    void on_looked_up(Connection& ch, const LookupResult& result);
    /// The HelloResponse of `ch` arrived: the kept HelloRequest goes, and so does the connect
    /// deadline (the stall watch, held back meanwhile, starts if output waits).
    void on_hello_response(Connection& ch);
    /// `ch`'s timer fired: when it was the connect deadline, closes `ch` (`connect_failed`, the
    /// words say it timed out) and returns true.
    bool on_deadline(Connection& ch);
    /// True for the HelloRequest frame a connection queued for the wire: it does not come back
    /// when its connection closes (the kept copy does). A connection's queue holds no other
    /// HelloRequest: posting one opens a channel of its own.
    [[nodiscard]] static bool is_wire_hello(const Message& msg) noexcept {
        return is_wire_hello_header(msg.bhdr);
    }
    /// The same, for a frame's header in the log of unconfirmed frames: a HelloRequest the server
    /// did not confirm had no HelloResponse yet, so its kept copy comes back instead.
    [[nodiscard]] static bool is_wire_hello_header(const BinaryHeader& header) noexcept {
        return header.proto.op_code == OpCode::hello_request;
    }

private:
    /// Starts the TCP or UDS connect of `ch` to `where`.
    void connect(Connection& ch, const SocketAddress& where);
    /// Gives a `tls` connection its stream, with the settings `hello` asks for; false, with the
    /// status and words to close it with, when they are no good.
    bool secure(Connection& ch, const TlsClientAddress& to, const Message& hello, AmpeStatus& status,
                std::string& why);

    Loop& loop_;
    /// The TLS context of connects with the engine's defaults: made at the first, then shared.
    std::shared_ptr<TlsContext> default_tls_;
};

}  // namespace tofu::detail

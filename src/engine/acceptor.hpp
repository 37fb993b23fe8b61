// The loop's listeners: opening one for a WelcomeRequest (a host name looked up off the engine
// thread first: engine/resolver.hpp), taking each connection it accepts into a new channel,
// refusing past the engine's channel limit, and resting when accepting fails (out of descriptors,
// say) instead of spinning on a backlog that stays ready.
#pragma once

#include <string_view>

#include <tofu/message.hpp>

#include "net/socket.hpp"

namespace tofu::detail {

class ReceiveQueue;
class Loop;
struct Listener;
struct Connection;

class Acceptor {
public:
    explicit Acceptor(Loop& loop) : loop_{loop} {}

    /// Opens the listener a WelcomeRequest asks for and answers with a WelcomeResponse (or
    /// returns the request with the reason, and closes the channel). A host name is looked up
    /// first, on a lookup thread: the listener keeps the request meanwhile (`Listener::resolving`).
    void open(ReceiveQueue& group, MessagePtr welcome);
    /// The host name `listener` waits for was looked up: it listens, or closes with the resolver's
    /// words.
    void on_looked_up(Listener& listener, const LookupResult& result);
    /// Takes a connection `listener` accepted into a new channel (or refuses it past the limit).
    void adopt(Listener& listener, Socket accepted);
    /// Reports `accept_failed` with `why` on a listener, once until it accepts again.
    void refuse(Listener& listener, std::string_view why);
    /// Accepting failed with `os_error`: the listener rests, then tries again.
    void rest(Listener& listener, int os_error);
    /// The listener's timer fired: a rest is over (it accepts again), or failed TLS handshakes
    /// wait to be reported.
    void on_deadline(Listener& listener);
    /// An accepted `tls` connection failed before its handshake was done: counted by its listener,
    /// which reports such failures at a bounded rate. False when the listener is gone.
    bool count_failed_handshake(const Connection& ch, std::string_view why);

private:
    void count_failed_handshake(Listener& listener, std::string_view why);
    /// Reports the failed handshakes counted, unless one was reported less than a second ago (the
    /// timer then reports them).
    void report_failed_handshakes(Listener& listener);
    /// Binds and listens at `where` (`requested`, as parsed) and answers `welcome`.
    void listen(Listener& listener, const SocketAddress& where, const Address& requested, MessagePtr welcome);

    Loop& loop_;
};

}  // namespace tofu::detail

// The loop's listeners: opening one for a WelcomeRequest, taking each connection it accepts into
// a new channel, refusing past the engine's channel limit, and resting when accepting fails (out of
// descriptors, say) instead of spinning on a backlog that stays ready.
#pragma once

#include <string_view>

#include <tofu/message.hpp>

#include "net/socket.hpp"

namespace tofu::detail {

class ReceiveQueue;
class Loop;
struct Listener;

class Acceptor {
public:
    explicit Acceptor(Loop& loop) : loop_{loop} {}

    /// Opens the listener a WelcomeRequest asks for and answers with a WelcomeResponse (or
    /// returns the request with the reason, and closes the channel).
    void open(ReceiveQueue& group, MessagePtr welcome);
    /// Takes a connection `listener` accepted into a new channel (or refuses it past the limit).
    void adopt(Listener& listener, Socket accepted);
    /// Reports `accept_failed` with `why` on a listener, once until it accepts again.
    void refuse(Listener& listener, std::string_view why);
    /// Accepting failed with `os_error`: the listener rests, then tries again.
    void rest(Listener& listener, int os_error);
    /// The rest is over: the listener accepts again.
    void rest_over(Listener& listener);

private:
    Loop& loop_;
};

}  // namespace tofu::detail

// The server side shared by `tofu listen` and `tofu echo`: listen, accept every client, answer
// byes, hand data messages to the subcommand, and stop cleanly on SIGINT / SIGTERM or when the
// subcommand is done.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <tofu/address.hpp>
#include <tofu/message.hpp>

#include "tls_flags.hpp"

namespace tofu::cli {

/// What a subcommand adds to the server.
struct ServerHooks {
    /// Sees every message the server receives except its own wake-ups, before the server acts on it.
    std::function<void(const Message&)> observe = [](const Message&) {};
    /// Turns a peer's data message (Request, Response, Signal) into the reply to post back, in
    /// place, and returns true; false drops it.
    std::function<bool(Message&)> answer = [](Message&) { return false; };
    /// Checked after each data message: true closes every client and ends the server.
    std::function<bool()> done = [] { return false; };
};

/// How long a stopping server waits for its clients to answer its ByeRequest before it resets them.
inline constexpr std::chrono::seconds server_close_timeout{5};

/// Runs a server on `address` (written `url` on the command line), with the certificates of `tls`
/// for a tls:// one, until SIGINT / SIGTERM or
/// `hooks.done()`. Prints "tofu: listening on URL" (the real port for port 0) as the first line on
/// stderr. On stop it closes the listener, sends ByeRequest to every client and waits for them up
/// to `server_close_timeout`; a second signal cuts that short. Returns the exit code; throws
/// `CommandError` when it cannot listen.
[[nodiscard]] int run_server(const Address& address, const std::string& url, const TlsOptions& tls,
                             const ServerHooks& hooks);

}  // namespace tofu::cli

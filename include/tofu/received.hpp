/// @file
/// Sorting what `ChannelGroup::wait_receive` returns, so a receive loop is a short switch:
///
/// ```cpp
/// switch (tofu::classify(*msg)) {
///     case tofu::Received::from_peer: /* the peer's Request, Hello, Bye... */ break;
///     case tofu::Received::report: /* channel_closed, pool_empty, accept_failed, listen result */ break;
///     case tofu::Received::returned: /* a message of ours came back: msg->bhdr.status says why */ break;
///     case tofu::Received::wake_up: /* update_receiver: a wake-up or a timer */ break;
/// }
/// ```
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <tofu/message.hpp>
#include <tofu/status.hpp>

namespace tofu {

/// What a received message is, by who made it and why it is here.
enum class Received : std::uint8_t {
    from_peer,  ///< sent by the peer: origin application, status not `receiver_update`
    report,     ///< the engine's report about a channel: a `channel_closed`, `pool_empty` or
                ///< `accept_failed` Signal, or the WelcomeResponse that answers a listen
    returned,   ///< a message this side posted, back from the engine (its status says why)
    wake_up,    ///< `update_receiver`'s message (or a timer's): status `receiver_update`
};

/// Sorts a received message; the rule, in order:
/// 1. status `receiver_update`: `wake_up`, whatever its origin and op code (the engine never
///    delivers a peer's frame with that status: docs/wire.md);
/// 2. origin application: `from_peer` (the engine delivers every frame from the wire with origin
///    application, so a peer cannot pose as the engine);
/// 3. origin engine, op code Signal and status `channel_closed`, `pool_empty` or `accept_failed`,
///    or op code WelcomeResponse (success or failure): `report`;
/// 4. any other engine message: `returned`. That is a HelloRequest that could not connect, a
///    message with `~unconfirmed`, a message still queued when its channel closed (the close
///    reason as status), one posted to a closed channel (`invalid_channel_number`), and so on.
[[nodiscard]] constexpr Received classify(const Message& msg) noexcept {
    const BinaryHeader& h = msg.bhdr;
    if (h.status == AmpeStatus::receiver_update) {
        return Received::wake_up;
    }
    if (h.proto.origin == Origin::application) {
        return Received::from_peer;
    }
    if (h.proto.op_code == OpCode::welcome_response) {
        return Received::report;
    }
    const bool channel_report = h.status == AmpeStatus::channel_closed ||
                                h.status == AmpeStatus::pool_empty || h.status == AmpeStatus::accept_failed;
    return h.proto.op_code == OpCode::signal && channel_report ? Received::report : Received::returned;
}

/// `"from_peer"`, `"report"`, `"returned"` or `"wake_up"`.
[[nodiscard]] std::string_view received_name(Received kind) noexcept;

/// Why a channel closed: the `~reason` header of a `channel_closed` report read back as a status
/// (`success` for a graceful bye). Nothing when `msg` is not a `channel_closed` report from the
/// engine, or its reason names no status.
[[nodiscard]] std::optional<AmpeStatus> close_reason(const Message& msg) noexcept;

}  // namespace tofu

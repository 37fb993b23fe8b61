/// @file
/// Channel groups: sets of channels that share one receive queue.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <system_error>

#include <tofu/message.hpp>

namespace tofu {

/// Wait forever in `ChannelGroup::wait_receive`.
inline constexpr std::chrono::nanoseconds wait_forever = std::chrono::nanoseconds::max();

/// Names a timer set by `ChannelGroup::update_receiver(msg, delay)`, for `cancel_timer`. Unique
/// within its engine while the timer is pending; 0 never names a timer.
using TimerId = std::uint64_t;

/// Reserved text header names of engine reports.
namespace header {
/// Name of the text header on a `channel_closed` report that names why the channel closed
/// (e.g. `~reason:peer_disconnected`).
inline constexpr std::string_view reason = "~reason";
/// Name of the text header on a `channel_closed` report that says more about the failure, when
/// there is more to say: the operating system's words (e.g. `~detail:Connection refused`) or
/// tofu's (`~detail:the stream ended inside a frame`).
inline constexpr std::string_view detail = "~detail";
/// On the `accept_failed` Signal a `tls` listener sends when TLS handshakes fail: how many failed
/// since its last such report (at most one report a second; the first at once).
inline constexpr std::string_view failed_handshakes = "~failed_handshakes";
}  // namespace header

/// A descriptor an event loop can wait on: a file descriptor on POSIX, a `SOCKET` on Windows.
#if defined(_WIN32)
using NativeHandle = std::uintptr_t;
#else
using NativeHandle = int;
#endif

/// A group's receive queue as one event-loop watcher sees it (`ChannelGroup::watch`): a
/// descriptor of its own to wait on and a receive that never blocks. Owned by the watcher and
/// known to the group, so either may go first: `<tofu/asio.hpp>` holds one, and never touches the
/// group itself.
///
/// Thread safety: its receives are the group's consumer (one at a time, see
/// `ChannelGroup::try_receive`); the group may be destroyed on any thread, even during a call.
class ReceiveWatch {
public:
    /// This watch's descriptor, readable as `ChannelGroup::native_handle` describes, and for good
    /// once the group is gone. Open as long as this watch. Never read it, write it or close it:
    /// only wait on it.
    [[nodiscard]] virtual NativeHandle native_handle() const noexcept = 0;

    /// The group's next message, or null when its queue is empty (`ec` cleared) or the group is
    /// gone (`ec` = `invalid_group`, tofu's category). Never blocks.
    /// @param ec cleared, or `invalid_group` once the group was destroyed.
    [[nodiscard]] virtual MessagePtr try_receive(std::error_code& ec) noexcept = 0;

    ReceiveWatch(const ReceiveWatch&) = delete;
    ReceiveWatch& operator=(const ReceiveWatch&) = delete;
    ReceiveWatch(ReceiveWatch&&) = delete;
    ReceiveWatch& operator=(ReceiveWatch&&) = delete;
    virtual ~ReceiveWatch() = default;

protected:
    ReceiveWatch() = default;
};

/// A set of channels that share one receive queue. Made by `Ampe::create`; destroying the handle
/// destroys the group: its channels are closed, its queued messages go back to the pool.
///
/// Thread safety: `post`, `update_receiver` and `cancel_timer` from any thread (not from a signal
/// handler: they may lock and allocate); `wait_receive`, `try_receive`, `native_handle` and
/// `watch` from one consumer thread at a time.
///
/// Every outcome of a posted message arrives through `wait_receive`:
/// - listen (WelcomeRequest): the request comes back as WelcomeResponse with origin engine.
///   On success its status is `success` and its `~listen_on` header holds the address actually
///   bound (so a TCP port 0 reads back as the port the OS chose). On failure the status says why
///   (`listen_failed`, `invalid_address`, `uds_path_not_found`), a `~detail` says more, and
///   `channel_closed` follows. A host name is looked up off the engine thread: one the resolver
///   does not know is `invalid_address`, one it could not look up now `listen_failed`.
/// - connect (HelloRequest): the server's HelloResponse arrives (accepted), or the HelloRequest
///   comes back whole (its text headers as posted, `~connect_to` included, and its body) with
///   origin engine, a status and, on a failure, a `~detail` saying why, then `channel_closed`:
///   `connect_failed` (refused, unreachable, no HelloResponse within `Options::connect_timeout`
///   or the HelloRequest's own `header::connect_timeout`, a resolver that could not answer now),
///   `invalid_address` (a malformed address, a host name the resolver does not know; its words
///   are in `~detail`), `uds_path_not_found`. The engine keeps the HelloRequest until its
///   HelloResponse arrives, so any close before that returns it, with the close's reason (e.g.
///   `peer_disconnected` when the server rejects it, `shutdown_started` after a ByeSignal), and
///   never also as an `~unconfirmed` header. Host names are looked up off the engine thread. The
///   engine's `~` headers go no further than the engine: the peer never reads `~connect_to` or
///   `~connect_timeout`. Messages may be posted on the new channel right after the
///   HelloRequest; they follow it on the wire.
/// - a peer's HelloRequest on a listener of this group arrives with a new channel number and the
///   peer's text headers and body, plus `~listener` (the channel number of the listener that
///   accepted it) and `~peer` (who connected, as the engine saw it); a peer's own `~` headers are
///   dropped. Answer with HelloResponse (accept) or ByeSignal (reject). A connection that sends
///   no HelloRequest within `Options::handshake_timeout` is closed.
/// - a listener that cannot take a connection (out of descriptors, or `Options::max_channels`
///   reached) sends one engine Signal with status `accept_failed` and a `~detail` on its channel,
///   and stays open; it reports again only after it has accepted once more.
/// - graceful close: A posts ByeRequest (sent after everything posted before it); B receives it
///   and posts ByeResponse; A's channel closes when the ByeResponse arrives (A receives it, then
///   `channel_closed`), B's once the ByeResponse is written and (between two tofu engines) A has
///   confirmed what B wrote before it. Each side gets `channel_closed` with reason `success`.
///   After its own ByeRequest a side may still post ByeResponse (the byes crossed) and ByeSignal;
///   after its own ByeResponse only ByeSignal.
/// - abort: ByeSignal on a channel (or a listener) closes it at once; the socket is reset. The
///   ByeSignal itself is consumed: it does not come back.
/// - backpressure: the engine receives only into pool messages. When the pool is empty it stops
///   reading the starved socket (TCP flow control then pushes back on the sender) and sends the
///   group one engine Signal with status `pool_empty` on that channel; reading resumes when
///   messages come back to the pool.
/// - every close (bye, abort, peer gone, I/O error, protocol violation, failed connect or listen,
///   group or engine going away): first each message that was written (or was being written)
///   but that the peer's engine never confirmed receiving comes back as its binary header alone
///   (op code, message id, `more`; no text headers, no body) with `header::unconfirmed`
///   (`~unconfirmed:1`): it may or may not have arrived. Then each message still queued for
///   sending comes back whole. Both
///   carry origin engine and the reason as their status (`send_failed` when the reason is
///   `success`: the channel closed gracefully before they went out). Then exactly one engine
///   Signal (origin engine, op code Signal) with status `channel_closed` on that channel, whose
///   `~reason` header names the reason and whose `~detail` header, when present, says more. So
///   every posted message is delivered to the peer or comes back; only an unconfirmed one can be
///   both. (Confirmations are between tofu engines; a peer that does not offer them in its
///   handshake is trusted with what was written, and nothing written to it comes back.)
///
/// Reasons:
/// - `success`: graceful bye.
/// - `shutdown_started`: closed by this side (ByeSignal, group or engine destroyed).
/// - `peer_disconnected`: the peer closed or reset the connection, even in the middle of a frame,
///   which is then dropped.
/// - `communication_failed`: an I/O error.
/// - `connect_failed`, `listen_failed`, `invalid_address`, `uds_path_not_found`: the HelloRequest
///   or WelcomeRequest failed (the same status as the returned request).
/// - a protocol violation by the peer: `invalid_op_code` (an undefined op code, or one that never
///   travels: ByeSignal, WelcomeRequest, WelcomeResponse), `invalid_more_usage` (`more` on a
///   Hello or Bye), `not_allowed` (a well-formed first frame that is not HelloRequest, or a second
///   HelloRequest), `invalid_message` (a delivery confirmation that is malformed or counts
///   wrongly). A malformed frame is judged before the first-frame rule.
///
/// A message that reaches the engine after its channel closed comes back with
/// `invalid_channel_number`. When the engine is destroyed, each open channel reports
/// `channel_closed`; a group with no channel gets nothing, so wake a thread blocked in
/// `wait_receive` with `update_receiver`.
///
/// Timers are messages: `update_receiver(msg, delay)` puts `msg` into the receive queue once
/// `delay` has passed, as the engine thread's work (no thread needs to wait in `wait_receive` for
/// it to fire), and `cancel_timer` takes it back before then. Cheap enough for one per request in
/// flight. A group's pending timers go back to the pool when it is destroyed, and all of them when
/// the engine is.
class ChannelGroup {
public:
    /// Validates `msg`, assigns what is missing and hands it to the engine; the message is sent
    /// later, in order with the other messages of its channel.
    ///
    /// Assigned: a new channel number for HelloRequest / WelcomeRequest (channel 0), and a
    /// message id from a process-wide counter when `message_id` is 0. Forced: origin
    /// application, status 0.
    ///
    /// @return the header as posted, with the assigned channel number and message id.
    /// @throws Error on a validation failure; `msg` then stays with the caller with its status
    /// set to the same status: `null_message`, `invalid_op_code` (undefined op code, or one only
    /// the engine sends), `invalid_message_id` (a response with id 0), `invalid_more_usage`,
    /// `invalid_headers_len` / `invalid_body_len` (a part over 65535 bytes),
    /// `invalid_channel_number` (0 on anything but HelloRequest / WelcomeRequest, or a channel
    /// not open in this group), `invalid_address` (HelloRequest / WelcomeRequest without its
    /// address header), `not_allowed` (a message after this side's ByeRequest or ByeResponse on
    /// the channel; a HelloRequest's `~connect_timeout` that is not whole milliseconds; a
    /// `~tls_verify` or `~tls_min_version` that is none of its values), `allocation_failed`
    /// (`Options::max_channels` open channels reached, on HelloRequest / WelcomeRequest), `shutdown_started`
    /// (the engine is going away). On success `msg` is empty.
    virtual BinaryHeader post(MessagePtr& msg) = 0;

    /// `post` without exceptions (Asio's convention), for the ordinary race of a peer that just
    /// left (`invalid_channel_number`): the same checks and the same outcome.
    ///
    /// @param msg the message to post; empty on success, left with the caller on a refusal.
    /// @param ec cleared on success; on a refusal it holds the status (`make_error_code`, tofu's
    /// category) and `msg` stays with the caller with its status set to the same status.
    /// @return the header as posted; on a refusal, `msg`'s header as it is (a default header for
    /// a null `msg`).
    virtual BinaryHeader post(MessagePtr& msg, std::error_code& ec) noexcept = 0;

    /// The next message for this group, or null when `timeout` passes first.
    /// Pass `wait_forever` to wait without limit.
    [[nodiscard]] virtual MessagePtr wait_receive(std::chrono::nanoseconds timeout) = 0;

    /// The next message for this group, or null when its queue is empty. Never blocks.
    ///
    /// `wait_receive` and `try_receive` (and a `watch`'s `try_receive`) share one rule: one
    /// consumer at a time, whichever call it uses.
    [[nodiscard]] virtual MessagePtr try_receive() = 0;

    /// A descriptor to wait on in an event loop (poll, epoll, kqueue, select, WSAPoll, Asio,
    /// libuv, Qt): readable from the moment a message is queued until a receive takes the last
    /// queued message (or returns null), and not readable after that until the next message is
    /// queued: level-triggered, it follows the queue. It is raised once and cleared once per
    /// empty -> non-empty cycle, never while messages keep coming faster than they are taken. Made on the
    /// first call (a group that never asks pays nothing); valid as long as the group. Only wait on it: never
    /// read, write or close it. Call it from the consumer's thread.
    /// @throws Error(notification_failed) when the operating system refuses the descriptor.
    [[nodiscard]] virtual NativeHandle native_handle() = 0;

    /// A new watch: a descriptor of its own that follows the queue exactly as `native_handle`
    /// does, with a receive, shared so that the watcher may outlive the group (see
    /// `ReceiveWatch`). One per watcher (an Asio receiver makes one): each live watch costs one
    /// more raise and clear per empty -> non-empty cycle. Call it from the consumer's thread.
    /// @throws Error(notification_failed) when the operating system refuses the descriptor.
    [[nodiscard]] virtual std::shared_ptr<ReceiveWatch> watch() = 0;

    /// Wakes `wait_receive`: puts `msg` (status set to `receiver_update`, origin application)
    /// into the receive queue, or, with no message, an engine Signal with status
    /// `receiver_update`. FIFO with everything else in the queue.
    virtual void update_receiver(MessagePtr msg = {}) = 0;

    /// A timer: puts `msg` (status set to `receiver_update`, origin application, the rest as the
    /// application left it) into the receive queue once `delay` has passed, FIFO with whatever
    /// the engine delivers then. Timers due at the same time come out in the order they were
    /// set. With no message, a Signal (origin application, status `receiver_update`, channel 0)
    /// is made for it.
    ///
    /// A `delay` of zero or less delivers at once, as `update_receiver(msg)` does; so does any
    /// delay once the engine has stopped (nothing would fire it). No timer is then pending and
    /// the call returns 0.
    ///
    /// @return the timer's id for `cancel_timer`, or 0 when `msg` was delivered at once.
    /// @throws std::bad_alloc when the timer table cannot grow (`msg` is then released).
    virtual TimerId update_receiver(MessagePtr msg, std::chrono::nanoseconds delay) = 0;

    /// Drops a pending timer of this group: its message goes back to the pool and never arrives.
    /// @return true when it was pending; false when it already fired, was cancelled, belongs to
    /// another group, or `id` names none (0 included).
    virtual bool cancel_timer(TimerId id) noexcept = 0;

    ChannelGroup(const ChannelGroup&) = delete;
    ChannelGroup& operator=(const ChannelGroup&) = delete;
    ChannelGroup(ChannelGroup&&) = delete;
    ChannelGroup& operator=(ChannelGroup&&) = delete;
    /// Closes the group's channels and returns its queued messages and pending timers to the
    /// pool. Blocks until the engine has let go of the group. Safe while channels are open or
    /// traffic is in flight.
    virtual ~ChannelGroup() = default;

protected:
    ChannelGroup() = default;
};

/// Owning handle of a channel group.
using ChannelGroupPtr = std::unique_ptr<ChannelGroup>;

}  // namespace tofu

/// @file
/// Engine options and the pool's allocation strategy.
#pragma once

#include <chrono>
#include <cstdint>

#include <tofu/message.hpp>

namespace tofu {

/// What `Ampe::get` does when the pool is empty.
enum class AllocationStrategy : std::uint8_t {
    pool_only,  ///< return null
    always,     ///< allocate a new message
};

/// Settings of one engine.
struct Options {
    /// Messages made when the engine starts.
    std::uint32_t initial_pool_msgs = 16;
    /// Most messages the pool keeps; a message returned to a full pool is freed.
    /// Must be at least `initial_pool_msgs` and at least 1.
    std::uint32_t max_pool_msgs = 64;

    /// Most channels open at once, listeners included: 1 to `max_channel` (65534, the wire's
    /// limit). Past it, posting a HelloRequest or WelcomeRequest throws `Error(allocation_failed)`,
    /// and a listener resets the connections it accepts and reports `accept_failed` on its channel
    /// (once until it accepts again). Existing channels are not affected.
    std::uint32_t max_channels = max_channel;

    /// How long an accepted connection has to send its HelloRequest. A connection that stays
    /// silent that long is closed and reported (`channel_closed`, reason `not_allowed`), so idle
    /// connections cannot hold descriptors and channel numbers. Zero: no limit.
    std::chrono::milliseconds handshake_timeout{5000};

    /// TCP channels: a peer that stops answering (its host vanished without a FIN, a link went
    /// down) is detected within about this time, and the channel closes with `peer_disconnected`.
    /// Turns on keepalive probes and sets TCP_USER_TIMEOUT. Keepalive counts whole seconds, so
    /// use a few seconds at least. Zero: off, the operating system's defaults (hours).
    /// Linux also gives up a live peer whose receive window stays shut longer than this (a
    /// receiver that stopped reading, e.g. its pool ran dry): make it longer than a receiver may
    /// stall.
    std::chrono::milliseconds dead_peer_timeout{0};

    /// Between two tofu engines, which confirm to each other what they received: the most frames
    /// a channel may have written that its peer has not confirmed yet. An engine confirms every
    /// 32 frames it reads, so only a peer that stopped confirming (or one whose confirmations
    /// wait unread behind this many of our frames) reaches it; the channel then closes with
    /// `communication_failed`, and each unconfirmed message comes back as its header. Bounds
    /// the memory such a peer makes the engine hold (about 24 bytes a frame). 64 to 2^24.
    std::uint32_t max_unconfirmed_frames = std::uint32_t{1} << 20U;

    /// How long the engine thread, out of work, looks for more (posted messages, ready sockets)
    /// before it sleeps. Work found while it looks needs no wake-up, which on a virtual machine
    /// costs tens of microseconds; it yields the CPU to any other runnable thread meanwhile.
    /// Zero: sleep at once. At most 10 ms.
    std::chrono::microseconds idle_spin{50};

    /// How long a thread in `ChannelGroup::wait_receive` looks for its group's next message
    /// before it sleeps, yielding the CPU meanwhile. Longer than `idle_spin`: the engine waits for
    /// one step of an exchange, a requester waits for the whole round trip. A reply that comes
    /// within it costs neither the engine a wake-up call nor the receiver a wake-up. Zero: sleep
    /// at once. At most 10 ms.
    std::chrono::microseconds receive_spin{200};

    /// Permission bits of a filesystem UDS listener's socket file; connecting needs write
    /// permission. Default: the owner only. Abstract names (`@name`) have no file: check the
    /// `~peer` header of each HelloRequest instead.
    std::uint32_t uds_file_mode = 0600;
};

}  // namespace tofu

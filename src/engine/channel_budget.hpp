// What the engine holds for one connection, by its own count, and the bound on it that
// `tofu::channel_budget` documents. Both sides of that promise live here, so they cannot drift.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include <tofu/message.hpp>
#include <tofu/options.hpp>

#include "engine/channel.hpp"

namespace tofu::detail {

/// The most bytes one read asks for, on every backend: what a starved channel may keep read and
/// not decoded (its stash).
inline constexpr std::size_t max_read_size = std::size_t{256} * 1024;

/// What a connection reads ahead for confirmations and keeps (Receiver::read_ahead_size), at
/// most: half its stash's room, so that a stream handing over more than a read asked for (TLS on
/// io_uring: records OpenSSL held from before, up to 96 KiB) still stays within `max_read_size`.
inline constexpr std::size_t max_read_ahead = max_read_size / 2;

/// The largest frame on the wire: header, text headers, body.
inline constexpr std::size_t max_frame_size = BinaryHeader::wire_size + 2 * max_part_size;

/// Read targets the loop takes from the pool at once, at most: enough for a full read of small
/// frames, and few enough that a sender in `wait_get` is not left waiting for a whole loop turn.
inline constexpr std::size_t max_read_batch = 512;

/// A channel's share for its echoes (messages read from it and posted back to it) waiting in its
/// send queue: past this many bytes of frames, or this many messages (or a quarter of the pool's,
/// if fewer), the channel is not read until they are written.
inline constexpr std::size_t echo_share_bytes = std::size_t{64} * 1024;
inline constexpr std::uint32_t max_echo_share = 64;

/// Echoes a connection may hold in messages of its own (not the pool's) when the others wait for
/// the pool and its peer takes none of them (Sender::relieve_pool).
inline constexpr std::size_t max_released_echo_bytes = std::size_t{64} * 1024;

/// A channel's share of echoes, in messages, for a pool of `max_pool_msgs`.
[[nodiscard]] constexpr std::uint32_t echo_share(std::uint32_t max_pool_msgs) noexcept {
    return std::clamp<std::uint32_t>(max_pool_msgs / 4, 1, max_echo_share);
}

/// What a message holds: the object and its buffers' storage.
[[nodiscard]] std::size_t message_bytes(const Message& m) noexcept;

/// Bytes one entry of a channel's log of unconfirmed frames takes.
inline constexpr std::size_t unconfirmed_entry_size = sizeof(UnconfirmedLog::Entry);

/// Bytes the engine holds for `ch` now: its record and, for a connection, its own messages (the
/// frame it assembles, its confirmation, a client's HelloRequest kept until its HelloResponse), its stash,
/// its log of unconfirmed frames and the echoes it holds in messages of its own. The other messages in its
/// send queue are the application's (or, read from the pool and posted back, the pool's) and not counted
/// here.
[[nodiscard]] std::size_t held_bytes(const Channel& ch) noexcept;

}  // namespace tofu::detail

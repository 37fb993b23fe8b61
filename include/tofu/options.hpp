/// @file
/// Engine options and the pool's allocation strategy.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include <tofu/message.hpp>

namespace tofu {

/// What `Ampe::get` does when the pool is empty.
enum class AllocationStrategy : std::uint8_t {
    pool_only,  ///< return null
    always,     ///< allocate a new message
};

/// The oldest TLS version a `tls` channel accepts (`TlsOptions::min_version`).
enum class TlsVersion : std::uint8_t {
    tls1_2,  ///< TLS 1.2 or 1.3
    tls1_3,  ///< TLS 1.3 only (the default)
};

/// How a `tls` channel checks its peer's certificate (`TlsOptions::verify`).
enum class TlsVerify : std::uint8_t {
    /// The default. A client verifies the server's certificate against `TlsOptions::ca` (the
    /// system's store when empty) and the host name it connects to (or `~tls_server_name`). A
    /// listener given a CA requires a client certificate and verifies it (mutual TLS); without
    /// one it asks for none.
    peer,
    /// No verification: a client takes any server certificate, a listener asks for none. The
    /// channel is encrypted but not authenticated: for tests, never across a network you do not
    /// trust.
    none,
};

/// The engine's TLS defaults, for channels whose address is `tls|...`. Each one may be replaced
/// per listener (on its WelcomeRequest) or per connection (on its HelloRequest) by a reserved
/// header: `~tls_cert`, `~tls_key`, `~tls_ca`, `~tls_verify` (`peer` or `none`),
/// `~tls_min_version` (`1.2` or `1.3`). Files are read when the listener opens or the connect
/// starts; a file that cannot be used fails that one listener (`listen_failed`) or connect
/// (`connect_failed`), with the reason in `~detail`. docs/security.md says what is protected.
struct TlsOptions {
    /// PEM file: this side's certificate, then the intermediates up to (not including) the root.
    /// A listener needs one; a client needs one only for a listener that asks (mutual TLS).
    std::string certificate_chain{};
    /// PEM file: the private key of `certificate_chain`'s first certificate.
    std::string private_key{};
    /// PEM file, or a directory prepared by `openssl rehash`, of the certificates to trust. Empty:
    /// a client trusts the system's store; a listener asks for no client certificate.
    std::string ca{};
    /// How the peer is checked.
    TlsVerify verify = TlsVerify::peer;
    /// The oldest version accepted (TLS 1.3 by default; 1.2 for peers that lack 1.3).
    TlsVersion min_version = TlsVersion::tls1_3;
    /// Lets OpenSSL hand the record layer to the kernel (kernel TLS, `SSL_OP_ENABLE_KTLS`) where
    /// the kernel offers it. Each delivered Hello says whether it is active (`~tls_ktls`). Off by
    /// default: with it, OpenSSL makes the socket calls itself (the engine thread blocks SIGPIPE
    /// for them). Readiness backends only: on io_uring the records stay in memory, and it has no
    /// effect. docs/security.md, "Kernel TLS".
    bool kernel_tls = false;

    /// Field-by-field equality.
    friend bool operator==(const TlsOptions&, const TlsOptions&) = default;
};

/// Settings of one engine.
struct Options {
    /// Messages made when the engine starts.
    std::uint32_t initial_pool_msgs = 16;
    /// Most messages the pool keeps; a message returned to a full pool is freed. The engine's reads
    /// make new messages only while the pool's messages (idle and out together) are fewer than
    /// this, and its reports never join the pool, so no peer can grow it past this.
    /// Must be at least `initial_pool_msgs` and at least 1.
    std::uint32_t max_pool_msgs = 64;

    /// Most channels open at once, listeners included: 1 to `max_channel` (65534, the wire's
    /// limit). Past it, posting a HelloRequest or WelcomeRequest throws `Error(allocation_failed)`,
    /// and a listener resets the connections it accepts and reports `accept_failed` on its channel
    /// (once until it accepts again). Existing channels are not affected.
    std::uint32_t max_channels = max_channel;

    /// How long an accepted connection has to send its HelloRequest. A connection that stays
    /// silent that long is closed and reported (`channel_closed`, reason `not_allowed`), so idle
    /// connections cannot hold descriptors and channel numbers. Zero: no limit. Here and in the
    /// other timeouts, a value past the clock's range (up to `milliseconds::max()`) is taken as
    /// "practically never": the deadline stops at the clock's end.
    std::chrono::milliseconds handshake_timeout{5000};

    /// How long a connect may take: from the engine taking a posted HelloRequest to its
    /// HelloResponse, the host name's lookup and the TCP connect included. Past it the
    /// HelloRequest comes back whole (as posted: text headers, body, `~connect_to`) with origin
    /// engine, status `connect_failed` and a `~detail` saying it timed out, then the channel's
    /// `channel_closed` (reason `connect_failed`). A HelloRequest may carry its own
    /// (`header::connect_timeout`). Zero: no limit.
    std::chrono::milliseconds connect_timeout{10000};

    /// TCP channels: a peer that stops answering (its host vanished without a FIN, a link went
    /// down) is detected within about this time, and the channel closes with `peer_disconnected`.
    /// Turns on keepalive probes and sets TCP_USER_TIMEOUT. Keepalive counts whole seconds, so
    /// use a few seconds at least. Zero: off, the operating system's defaults (hours). Past the
    /// kernel's range (about 24.8 days for TCP_USER_TIMEOUT, 9 hours for keepalive) it is cut
    /// to the longest the kernel takes.
    /// Linux also gives up a live peer whose receive window stays shut longer than this (a
    /// receiver that stopped reading, e.g. its pool ran dry): make it longer than a receiver may
    /// stall.
    std::chrono::milliseconds dead_peer_timeout{0};

    /// Between two tofu engines, which confirm to each other what they received: the send window,
    /// in frames. A channel writes at most this many Requests, Responses and Signals its peer has
    /// not confirmed, and Requests and Signals it starts only up to half (answers to the peer's
    /// Requests keep room, however many it pipelines: its confirmations of our answers come
    /// behind them). At the cap it writes nothing more to that peer until a confirmation comes
    /// (an engine confirms every 32 frames it reads, or within 100 ms; see `stall_timeout` for a
    /// peer that never does). Each such frame costs
    /// the engine 32 bytes until confirmed, so this bounds what a peer that never confirms can
    /// make it hold (4096: 128 KiB; see `channel_budget`). 64 to 2^24.
    std::uint32_t max_unconfirmed_frames = 4096;

    /// How long a channel may hold messages it cannot write: its peer reads none of them (its TCP
    /// or socket window stays shut) or confirms none (the send window stays full). Past it the
    /// channel closes with `communication_failed`, and everything not written or not confirmed
    /// comes back, so a peer that stops taking what it is sent holds nothing for long (and what
    /// such peers hold of the pool comes back). Any progress starts it again. Zero: wait as long as
    /// the peer stays.
    std::chrono::milliseconds stall_timeout{30000};

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

    /// Certificates, keys and checks of `tls` channels (see `TlsOptions`).
    TlsOptions tls{};
};

/// The most bytes an engine holds for one connection, beyond the kernel's socket buffers and the
/// messages your application posted to it, whatever the peer sends or withholds: its record, the
/// one frame still arriving (at most 131,086 bytes, held in the connection's own message, never a
/// pool message), on a client's connection the HelloRequest it keeps until its HelloResponse (a
/// copy of the one posted: at most 131,070 bytes of text headers and body), the bytes read ahead
/// of a dry pool (at most one read, 256 KiB), the send window's log (`max_unconfirmed_frames` x
/// 32 bytes), the answers it moved out of the pool while others waited for it and its peer took
/// none (at most 64 KiB), and in a build with TLS what a `tls` connection's session holds
/// (208 KiB: OpenSSL's state and buffers, records not yet sent). About 0.7 MiB (705 KiB) with the
/// defaults, 0.89 MiB (913 KiB) with TLS built: a bound for every connection,
/// whatever its transport. An engine's memory is then at most `max_channels` times this, plus the pool:
/// `max_pool_msgs` messages of up to 131,070 bytes of text headers and body each (docs/reliability.md).
[[nodiscard]] std::size_t channel_budget(const Options& options) noexcept;

/// What an engine holds, by its own accounting (`Reactor::memory`): a count, not a guess from the
/// process's resident size.
struct EngineMemory {
    std::size_t channels =
        0;  ///< open channels, listeners included (and closed ones still returning messages)
    std::size_t channel_bytes = 0;    ///< bytes held for all of them together
    std::size_t largest_channel = 0;  ///< bytes held for the one that holds most: at most `channel_budget`
    std::size_t pool_idle = 0;        ///< messages idle in the pool
    std::size_t pool_out = 0;         ///< pool messages handed out (to the application, queues, reads)
    std::size_t timers = 0;           ///< timers pending (`ChannelGroup::update_receiver` with a delay)
};

}  // namespace tofu

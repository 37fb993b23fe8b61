// The seam between a connection's socket and the frame codec: the loop's sender and receiver move
// stream bytes through a `ByteStream`, never through the socket directly. The plain stream (the
// socket's own bytes) is the one implementation now; a TLS stream is meant to fit as a second one
// without touching the loop, the codec or the confirmations. So the seam already says what such a
// transport needs (docs/engine.md, "The byte-stream seam"):
//   - input it holds that the socket will not signal again (`has_buffered_input`): a channel that
//     resumes after starving is read without a socket event;
//   - socket events other than the ones the channel asks for (`needs`, `serves`): a handshake or
//     a key update writes while the channel only reads, or reads while it only writes;
//   - its own writes, without SIGPIPE (every write goes through `write`);
//   - the completion backend, where the kernel moves the socket's bytes and the stream works on
//     memory (`absorb`, `seal`, `sent`), and bytes of its own must be sent though the channel
//     has nothing queued (`has_output`).
// The calls that touch the socket take it: a stream that keeps no state of its own is shared by
// all channels. A stream that keeps state (TLS, net/tls_stream.hpp) is one per connection, and
// says more through the calls at the end: why it failed, whether it is still in its handshake,
// who the peer is, its last words before the socket closes, and what it holds.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include <tofu/message.hpp>

#include "net/native_socket.hpp"
#include "net/socket.hpp"

namespace tofu::detail {

/// Which ways a socket is (or must become) ready.
struct Readiness {
    bool readable = false;
    bool writable = false;

    friend constexpr bool operator==(Readiness, Readiness) noexcept = default;
};

class ByteStream {
public:
    ByteStream() = default;
    virtual ~ByteStream() = default;
    ByteStream(const ByteStream&) = delete;
    ByteStream& operator=(const ByteStream&) = delete;
    ByteStream(ByteStream&&) = delete;
    ByteStream& operator=(ByteStream&&) = delete;

    // --- Readiness backends: the stream makes the socket calls --------------------------------

    /// Reads stream bytes into `into`, as many as are at hand.
    virtual IoResult read(const Socket& s, std::span<std::byte> into) noexcept = 0;
    /// Like `read`, but the bytes stay to be read again.
    virtual IoResult peek(const Socket& s, std::span<std::byte> into) noexcept = 0;
    /// Writes the stream bytes `parts` point at, in order, as far as the socket takes them now;
    /// `bytes` counts stream bytes. Never raises SIGPIPE.
    virtual IoResult write(const Socket& s, std::span<const native::IoSlice> parts) noexcept = 0;
    /// Ends our direction after what was written (the peer reads the end of the stream).
    virtual void shutdown_send(const Socket& s) noexcept = 0;

    /// Stream bytes already taken from the socket and not yet read: the socket will not signal
    /// them, so whoever stopped reading must read again without waiting for an event.
    [[nodiscard]] virtual bool has_buffered_input() const noexcept = 0;
    /// The readiness to wait for so that what the channel `wants` (to read, to write) can happen.
    [[nodiscard]] virtual Readiness needs(Readiness wants) const noexcept = 0;
    /// What the channel `wants` that the socket's readiness `fired` lets happen now.
    [[nodiscard]] virtual Readiness serves(Readiness fired, Readiness wants) const noexcept = 0;

    // --- The completion backend: the kernel moves the socket's bytes --------------------------

    /// The stream bytes in what the kernel received, valid until the next call.
    virtual std::span<const std::byte> absorb(std::span<const std::byte> received) = 0;
    /// What to hand the kernel to send the stream bytes `parts` point at. The result, and what it
    /// points to, must stay put until the send completes.
    virtual std::span<const native::IoSlice> seal(std::span<const native::IoSlice> parts) = 0;
    /// How many stream bytes a send that moved `kernel_bytes` carried.
    [[nodiscard]] virtual std::size_t sent(std::size_t kernel_bytes) noexcept = 0;
    /// Bytes of its own wait to be sent (records the socket did not take, a handshake, the end of
    /// the stream): the completion driver sends `seal` of what the channel has queued, even if
    /// that is nothing; a readiness driver calls `write`, even with nothing, when the socket has
    /// room for them.
    [[nodiscard]] virtual bool has_output() const noexcept = 0;
    /// A readiness backend: the stream holds back bytes the socket did not take, and must be
    /// offered the same ones again first (kernel TLS: OpenSSL's rule for a write it could not
    /// finish), so the front of the channel's queue must not change meanwhile.
    [[nodiscard]] virtual bool holds_write() const noexcept { return false; }
    /// Bytes of its own that its peer asked for (TLS: the answer to a key update) wait unsent
    /// beyond their bound: the channel must read no more until they are sent, or a peer that asks
    /// and never reads would make them grow without end. A readiness backend's stream handles it
    /// itself (`needs`, `read`); the completion backend starts no receive meanwhile.
    [[nodiscard]] virtual bool output_backlogged() const noexcept { return false; }

    // --- A stream with state of its own (TLS) ---------------------------------------------------

    /// Why the stream failed, for `~detail` (empty: it did not, or the socket's error says it).
    [[nodiscard]] virtual std::string_view failure() const noexcept { return {}; }
    /// The completion backend: `absorb` failed (the stream's own error, e.g. a bad record).
    [[nodiscard]] virtual SocketError absorb_error() const noexcept { return {}; }
    /// The completion backend: the stream ended inside what `absorb` was given (TLS: the peer's
    /// close_notify), ahead of the socket, which may never say so: the connection ends after
    /// the bytes `absorb` returned.
    [[nodiscard]] virtual bool absorbed_end() const noexcept { return false; }
    /// The completion backend: what the socket's end (`end`: end of stream or an error) means for
    /// the stream (TLS: a handshake cut short is the connect's failure, with words).
    [[nodiscard]] virtual IoResult at_end(const IoResult& end) noexcept { return end; }
    /// True until the stream's own handshake is done (its peer's identity is not known yet).
    [[nodiscard]] virtual bool handshaking() const noexcept { return false; }
    /// Appends what the stream knows of its peer (a verified certificate's names) to `headers`,
    /// leaving `reserve` bytes free for the engine's headers that follow; never throws. False when
    /// what must be there (a verified certificate's subject) does not fit: the Hello must then be
    /// refused, never delivered without it.
    [[nodiscard]] virtual bool append_peer_identity(TextHeaders& /*headers*/,
                                                    std::size_t /*reserve*/) const noexcept {
        return true;
    }
    /// Just before the socket closes: writes what the peer should still learn (an alert, the end
    /// of the session), once, without waiting.
    virtual void send_last_words(const Socket& /*s*/) noexcept {}
    /// Memory the stream holds for its connection (the connection's budget counts it).
    [[nodiscard]] virtual std::size_t held_bytes() const noexcept { return 0; }
};

}  // namespace tofu::detail

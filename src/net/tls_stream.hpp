// The TLS byte stream: TCP plus TLS through OpenSSL 3, one per connection. The frames' bytes are
// its plaintext; the socket carries records.
//
// OpenSSL reaches the socket through a BIO of tofu's own: on a readiness backend it reads with
// recv from the connection's socket; on the completion backend from what the kernel received
// (`absorb`). The records OpenSSL writes are collected in memory, and the stream sends them, many
// in one system call: with send (MSG_NOSIGNAL: never SIGPIPE) on a readiness backend, through the
// kernel (`seal`) on the completion backend. With kernel TLS asked for, OpenSSL's own socket BIO is used
// instead, so that it can hand the record layer to the kernel (the engine thread blocks SIGPIPE for it).
//
// The handshake needs no call of its own: the first read (a listener's) or write (a client's, its
// HelloRequest) makes it. Until it is done a write may have to wait for the socket to be readable,
// which `needs` and `serves` tell the readiness driver.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "net/byte_stream.hpp"

using SSL = struct ssl_st;

namespace tofu::detail {

class TlsContext;

class TlsStream final : public ByteStream {
public:
    /// A stream of `context`'s side (listener or client). `ssl` is made from it and owned from now on.
    TlsStream(std::shared_ptr<TlsContext> context, SSL* ssl, bool server, bool kernel_tls) noexcept;
    ~TlsStream() override;
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;
    TlsStream(TlsStream&&) = delete;
    TlsStream& operator=(TlsStream&&) = delete;

    IoResult read(const Socket& s, std::span<std::byte> into) noexcept override;
    IoResult peek(const Socket& s, std::span<std::byte> into) noexcept override;
    IoResult write(const Socket& s, std::span<const native::IoSlice> parts) noexcept override;
    void shutdown_send(const Socket& s) noexcept override;
    [[nodiscard]] bool has_buffered_input() const noexcept override;
    [[nodiscard]] Readiness needs(Readiness wants) const noexcept override;
    [[nodiscard]] Readiness serves(Readiness fired, Readiness wants) const noexcept override;

    std::span<const std::byte> absorb(std::span<const std::byte> received) override;
    std::span<const native::IoSlice> seal(std::span<const native::IoSlice> parts) override;
    [[nodiscard]] std::size_t sent(std::size_t kernel_bytes) noexcept override;
    [[nodiscard]] bool has_output() const noexcept override;
    [[nodiscard]] bool holds_write() const noexcept override;
    [[nodiscard]] bool output_backlogged() const noexcept override;

    [[nodiscard]] std::string_view failure() const noexcept override { return failure_; }
    [[nodiscard]] SocketError absorb_error() const noexcept override { return error_; }
    [[nodiscard]] bool absorbed_end() const noexcept override { return end_held_; }
    [[nodiscard]] IoResult at_end(const IoResult& end) noexcept override;
    [[nodiscard]] bool handshaking() const noexcept override;
    [[nodiscard]] bool append_peer_identity(TextHeaders& headers,
                                            std::size_t reserve) const noexcept override;
    void send_last_words(const Socket& s) noexcept override;
    [[nodiscard]] std::size_t held_bytes() const noexcept override;

    // --- For the BIO (net/tls_stream.cpp) -------------------------------------------------------

    /// OpenSSL reads records: from the socket, or from what `absorb` was given.
    int bio_read(std::span<std::byte> into, bool& retry) noexcept;
    /// OpenSSL writes records: they are collected, all of them, for the stream to send (never a
    /// retry). False only when memory for them cannot be had.
    bool bio_write(std::span<const std::byte> from) noexcept;

private:
    /// Points OpenSSL at the socket `s` (readiness backends) or at memory (completion backend).
    void attach(const Socket* s) noexcept;
    /// What an OpenSSL call that returned `rc` means; sets `error_` and `failure_` on a failure.
    IoResult outcome(int rc, std::size_t bytes) noexcept;
    /// Sends the records OpenSSL made, as far as the socket takes them now.
    IoResult flush_queued(const Socket& s) noexcept;
    /// A write on a readiness backend: records made in batches, each sent in one system call.
    IoResult write_batched(const Socket& s, std::span<const native::IoSlice> parts) noexcept;
    /// A write with kernel TLS: OpenSSL's socket BIO makes the system calls.
    IoResult write_through_openssl(std::span<const native::IoSlice> parts) noexcept;
    /// Writes `parts` after their first `skip` bytes, one record at a time; counts into `done`.
    IoResult write_records(std::span<const native::IoSlice> parts, std::size_t skip, std::size_t limit,
                           std::size_t& done) noexcept;
    /// Forgets the answers counted once everything the stream made is sent.
    void note_if_drained() noexcept;
    void fail(AmpeStatus status, std::string why) noexcept;
    /// Ends the session (close_notify) once, as far as it can without waiting.
    void close_session(const Socket& s) noexcept;

    std::shared_ptr<TlsContext> context_;
    SSL* ssl_;
    bool server_;
    bool kernel_tls_;
    bool bio_attached_ = false;
    bool memory_ = false;               ///< the completion backend: the kernel moves the records
    const Socket* socket_ = nullptr;    ///< during a read or write on a readiness backend
    std::span<const std::byte> input_;  ///< during `absorb`: received bytes OpenSSL has not read
    int os_error_ = 0;                  ///< the socket call's error, for the outcome
    bool peer_ended_ = false;           ///< the socket read its end (or `absorb` was told of it)
    bool read_wants_write_ = false;     ///< the last read waits for the socket to take bytes
    bool write_wants_read_ = false;     ///< the last write waits for the peer's handshake bytes
    bool received_data_ = false;        ///< a client: decrypted something (the HelloResponse)
    bool said_goodbye_ = false;
    bool writing_records_ = false;      ///< OpenSSL is making the channel's records (else its own)
    bool established_ = false;          ///< the handshake was done when OpenSSL last read
    std::size_t answers_ = 0;           ///< bytes of OpenSSL's own records since all was last sent
    std::size_t read_budget_ = 0;       ///< ciphertext the read in progress may still take
    bool input_cut_ = false;            ///< the last read stopped at its budget, not at the socket
    bool may_hold_records_ = false;     ///< OpenSSL may hold whole records (`has_buffered_input`)
    bool end_held_ = false;             ///< the session ended after what the last read returned
    std::vector<std::byte> pending_;    ///< a record OpenSSL took but the socket did not: retried first
    std::vector<std::byte> queued_;     ///< records made, not yet sent (or handed to the kernel)
    std::size_t queued_sent_ = 0;       ///< ... of which a readiness backend sent this many
    std::vector<std::byte> in_flight_;  ///< completion: records handed to the kernel by `seal`
    std::size_t in_flight_sent_ = 0;    ///< ... of which the kernel has sent this many
    std::size_t sealed_plain_ = 0;      ///< plaintext the last `seal` took
    native::IoSlice sealed_slice_{};
    SocketError error_;
    std::string failure_;
};

}  // namespace tofu::detail

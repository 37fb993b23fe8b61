#include "net/tls_stream.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <pthread.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstring>
#include <string>
#include <utility>

#include "net/tls_context.hpp"
#include "net/tls_identity.hpp"

namespace tofu::detail {
namespace {

/// The most plaintext one record carries (TLS's limit).
constexpr std::size_t max_record = 16384;
/// The most plaintext one `seal` takes: the records it makes wait in memory until the kernel sends
/// them, so this bounds what the stream holds.
constexpr std::size_t max_sealed = 4 * max_record;
/// A part this big is encrypted where it lies, never copied to join a record.
constexpr std::size_t max_unstaged = 4096;
/// OpenSSL's own records (a key update a peer asked for, an alert) that may wait unsent before the
/// stream reads no more: a peer that keeps asking and never reads cannot pile them up.
constexpr std::size_t max_unsent_answers = max_record;
/// Ciphertext one read may take from the socket beyond the plaintext it can deliver (a record
/// begun before, record overheads): records that carry nothing for the channel (key updates,
/// empty records) cannot keep the engine in one read.
constexpr std::size_t read_slack = 2 * (max_record + 256);
/// What one `absorb` can decrypt: what the kernel received (at most 64 KiB) and a record OpenSSL
/// held from before.
constexpr std::size_t absorb_capacity = std::size_t{64} * 1024 + 2 * max_record;

/// Small parts are copied into one record rather than each making a record of its own.
std::span<std::byte> record_staging() noexcept {
    thread_local std::array<std::byte, max_record> staging{};
    return staging;
}

std::span<std::byte> absorb_buffer() {
    thread_local std::vector<std::byte> buffer(absorb_capacity);
    return buffer;
}

// --- The BIO: OpenSSL's way to the socket, or to memory ----------------------------------------

int bio_write_ex(BIO* bio, const char* data, std::size_t size, std::size_t* written) {
    auto* stream = static_cast<TlsStream*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL's bytes are chars
    if (!stream->bio_write({reinterpret_cast<const std::byte*>(data), size})) {
        return 0;
    }
    *written = size;
    return 1;
}

int bio_read_ex(BIO* bio, char* data, std::size_t size, std::size_t* read) {
    auto* stream = static_cast<TlsStream*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    bool retry = false;
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL's bytes are chars
    const int n = stream->bio_read({reinterpret_cast<std::byte*>(data), size}, retry);
    if (n <= 0) {
        if (retry) {
            BIO_set_retry_read(bio);
        }
        return 0;
    }
    *read = static_cast<std::size_t>(n);
    return 1;
}

long bio_ctrl(BIO* /*bio*/, int cmd, long /*num*/, void* /*ptr*/) {
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;  // nothing is buffered in the BIO itself
}

BIO_METHOD* tofu_bio_method() {
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tofu stream");
        if (m != nullptr) {
            BIO_meth_set_write_ex(m, bio_write_ex);
            BIO_meth_set_read_ex(m, bio_read_ex);
            BIO_meth_set_ctrl(m, bio_ctrl);
        }
        return m;
    }();
    return method;
}

/// The engine thread (this one) never takes SIGPIPE: a write to a peer that is gone fails with
/// EPIPE instead. A SIGPIPE raised by such a write stays pending on this thread, unseen.
void block_sigpipe_on_this_thread() noexcept {
    thread_local const bool blocked = [] {
        sigset_t pipe{};
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        return pthread_sigmask(SIG_BLOCK, &pipe, nullptr) == 0;
    }();
    (void)blocked;
}

/// OpenSSL's words for the error at the front of its queue, which is emptied.
std::string openssl_reason() {
    std::string why;
    while (const unsigned long e = ERR_get_error()) {
        if (why.empty()) {
            const char* reason = ERR_reason_error_string(e);
            why = reason != nullptr ? reason : "error " + std::to_string(ERR_GET_REASON(e));
        }
    }
    return why;
}

}  // namespace

TlsStream::TlsStream(std::shared_ptr<TlsContext> context, SSL* ssl, bool server, bool kernel_tls) noexcept
    : context_{std::move(context)}, ssl_{ssl}, server_{server}, kernel_tls_{kernel_tls} {}

TlsStream::~TlsStream() {
    SSL_free(ssl_);  // and its BIO
}

void TlsStream::attach(const Socket* s) noexcept {
    socket_ = s;
    if (bio_attached_) {
        return;
    }
    BIO* bio = nullptr;
    if (kernel_tls_ && s != nullptr) {
        block_sigpipe_on_this_thread();              // OpenSSL's writes do not pass MSG_NOSIGNAL
        bio = BIO_new_socket(s->fd(), BIO_NOCLOSE);  // OpenSSL's own: it can turn kernel TLS on
    } else {
        bio = BIO_new(tofu_bio_method());
        if (bio != nullptr) {
            BIO_set_data(bio, this);
            BIO_set_init(bio, 1);
        }
    }
    if (bio == nullptr) {
        return;  // the next OpenSSL call fails for want of a BIO, and says so
    }
    SSL_set_bio(ssl_, bio, bio);
    bio_attached_ = true;
}

int TlsStream::bio_read(std::span<std::byte> into, bool& retry) noexcept {
    // Between records: a post-handshake message being answered (a key update) is not the handshake.
    established_ = established_ || !handshaking();
    if (socket_ == nullptr) {  // completion backend: what absorb was given
        if (input_.empty()) {
            retry = !peer_ended_;
            return 0;
        }
        const std::size_t n = std::min(into.size(), input_.size());
        std::memcpy(into.data(), input_.data(), n);
        input_ = input_.subspan(n);
        return static_cast<int>(n);
    }
    if (output_backlogged()) {
        retry = true;  // its answers go out first: the channel waits for room in the socket
        return 0;
    }
    if (read_budget_ == 0) {
        input_cut_ = true;  // the rest on a later turn (`has_buffered_input`), after the others
        retry = true;
        return 0;
    }
    const IoResult r = read_some(*socket_, into.first(std::min(into.size(), read_budget_)));
    if (r.would_block) {
        retry = true;
        return 0;
    }
    if (r.end_of_stream) {
        peer_ended_ = true;
        return 0;
    }
    if (!r.error.ok()) {
        os_error_ = r.error.os_error;
        return -1;
    }
    read_budget_ -= r.bytes;
    return static_cast<int>(r.bytes);
}

bool TlsStream::bio_write(std::span<const std::byte> from) noexcept {
    // Records are collected, never written by OpenSSL itself: the stream sends them (`flush_queued`
    // on a readiness backend, `seal` on the completion backend), many in one system call, and
    // OpenSSL never holds a record back for a retry with the same bytes.
    try {
        queued_.insert(queued_.end(), from.begin(), from.end());
        // Answers count, the handshake's records do not: both ends' flights may be big, and
        // each end's waits on the other's.
        if (!writing_records_ && established_) {
            answers_ += from.size();
        }
        return true;
    } catch (...) {
        return false;  // out of memory: OpenSSL's write fails, and the channel with it
    }
}

IoResult TlsStream::flush_queued(const Socket& s) noexcept {
    IoResult r;
    while (queued_sent_ < queued_.size()) {
        const native::IoSlice part =
            native::io_slice(queued_.data() + queued_sent_, queued_.size() - queued_sent_);
        r = write_vectored(s, {&part, 1});
        if (!r.error.ok() || r.would_block) {
            os_error_ = r.error.os_error;
            return r;
        }
        queued_sent_ += r.bytes;
    }
    queued_.clear();
    queued_sent_ = 0;
    note_if_drained();
    return r;
}

void TlsStream::note_if_drained() noexcept {
    if (!has_output()) {
        answers_ = 0;
    }
}

bool TlsStream::output_backlogged() const noexcept {
    return answers_ > max_unsent_answers && has_output();
}

// --- Outcomes -----------------------------------------------------------------------------------

void TlsStream::fail(AmpeStatus status, std::string why) noexcept {
    if (error_.ok()) {
        error_ = SocketError{status, os_error_};
        failure_ = std::move(why);
    }
}

IoResult TlsStream::outcome(int rc, std::size_t bytes) noexcept {
    IoResult r;
    if (!error_.ok()) {
        r.error = error_;
        return r;
    }
    if (rc == 1) {
        r.bytes = bytes;
        return r;
    }
    const int e = SSL_get_error(ssl_, rc);
    switch (e) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE: r.would_block = true; return r;
        case SSL_ERROR_ZERO_RETURN:
            if (!handshaking()) {
                r.end_of_stream = true;  // close_notify (or the peer's end: unexpected EOF is ignored)
                return r;
            }
            break;
        default: break;
    }
    if (peer_ended_ && !handshaking()) {
        // The socket's stream ended inside a record: the peer left, as a tcp peer that leaves
        // inside a frame (whose frame, cut with the record, is dropped and said so).
        ERR_clear_error();
        r.end_of_stream = true;
        return r;
    }
    // A failure. Before the handshake is done it is the connect's (a client) or a refused peer (a
    // listener, which counts it); after, the channel's.
    const bool in_handshake = handshaking() || (!server_ && !received_data_);
    const AmpeStatus status =
        in_handshake && !server_ ? AmpeStatus::connect_failed : AmpeStatus::communication_failed;
    std::string why = in_handshake ? "TLS handshake failed: " : "TLS: ";
    const long verify = SSL_get_verify_result(ssl_);
    const std::string reason = openssl_reason();
    if (e == SSL_ERROR_SSL && verify != X509_V_OK) {
        why += "certificate verify failed: ";
        why += X509_verify_cert_error_string(verify);
    } else if (e == SSL_ERROR_SSL) {
        why += reason.empty() ? "protocol error" : reason;
    } else if (os_error_ != 0) {
        why += os_error_text(os_error_);
    } else {
        why += "the peer closed the connection";
        if (in_handshake) {
            why += server_ ? " (a client that does not speak TLS?)" : " (is the listener a tls one?)";
        }
    }
    if (os_error_ != 0 && !in_handshake) {
        fail(read_result(-1, os_error_).error.status, std::move(why));  // the socket's error, as for tcp
    } else {
        fail(status, std::move(why));
    }
    r.error = error_;
    return r;
}

// --- Readiness backends -------------------------------------------------------------------------

IoResult TlsStream::read(const Socket& s, std::span<std::byte> into) noexcept {
    attach(&s);
    read_wants_write_ = false;
    read_budget_ = into.size() + read_slack;
    input_cut_ = false;
    (void)flush_queued(s);  // what an earlier read made OpenSSL say (its handshake) goes first
    std::size_t total = 0;
    IoResult r;
    r.error = error_;  // a failure met after the bytes the read before returned: told now
    // Record after record until `into` is full or nothing more can be read now: what OpenSSL read
    // ahead and holds is read here, not left for a socket event that will not come.
    while (total < into.size() && error_.ok()) {
        std::size_t n = 0;
        const int rc = SSL_read_ex(ssl_, into.data() + total, into.size() - total, &n);
        r = outcome(rc, n);
        if (rc != 1) {
            read_wants_write_ = SSL_want_write(ssl_) != 0;
            break;
        }
        total += n;
    }
    (void)flush_queued(s);  // a failed send shows on the next read or write
    may_hold_records_ = total == into.size() && SSL_has_pending(ssl_) != 0;
    // The end (a close_notify that came with the last record, say) is told by the next read, which
    // no socket event may ever ask for: the peer can keep its socket open and quiet.
    end_held_ = total != 0 && r.ended();
    read_wants_write_ = read_wants_write_ || queued_sent_ < queued_.size();
    // A write that waited for the handshake's input (or was cut at its read budget) may go on
    // once this read finished the handshake: it waits for room now, not for the peer.
    write_wants_read_ = write_wants_read_ && handshaking();
    socket_ = nullptr;
    if (total != 0) {
        received_data_ = true;
        IoResult got;
        got.bytes = total;  // an end or error after them shows on the next read
        return got;
    }
    return r;
}

IoResult TlsStream::peek(const Socket& s, std::span<std::byte> into) noexcept {
    attach(&s);
    read_budget_ = into.size() + read_slack;
    input_cut_ = false;
    may_hold_records_ = false;  // what it peeks is decrypted, or OpenSSL holds no whole record
    std::size_t n = 0;
    const int rc = SSL_peek_ex(ssl_, into.data(), into.size(), &n);
    socket_ = nullptr;
    return outcome(rc, n);
}

IoResult TlsStream::write_records(std::span<const native::IoSlice> parts, std::size_t skip, std::size_t limit,
                                  std::size_t& done) noexcept {
    const std::span<std::byte> staging = record_staging();
    IoResult r;
    std::size_t part = 0;
    std::size_t offset = skip;  // into parts[part]
    const auto advance = [&] {
        while (part < parts.size() && offset >= parts[part].iov_len) {
            offset -= parts[part].iov_len;
            ++part;
        }
    };
    advance();
    while (part < parts.size() && done < limit) {
        // One record: a big part is encrypted where it lies; small ones are copied together first,
        // up to the next big part (copying that would cost more than the small record it saves).
        const auto* base = static_cast<const std::byte*>(parts[part].iov_base);
        std::span<const std::byte> record{base + offset, std::min(parts[part].iov_len - offset, max_record)};
        if (record.size() < max_record && part + 1 < parts.size() && parts[part + 1].iov_len < max_unstaged) {
            std::size_t filled = 0;
            std::size_t p = part;
            std::size_t o = offset;
            while (p < parts.size() && filled < staging.size() &&
                   (p == part || parts[p].iov_len < max_unstaged)) {
                const auto* b = static_cast<const std::byte*>(parts[p].iov_base);
                const std::size_t n = std::min(parts[p].iov_len - o, staging.size() - filled);
                std::memcpy(staging.data() + filled, b + o, n);
                filled += n;
                o += n;
                if (o == parts[p].iov_len) {
                    ++p;
                    o = 0;
                }
            }
            record = staging.first(filled);
        }
        std::size_t n = 0;
        writing_records_ = true;
        const int rc = SSL_write_ex(ssl_, record.data(), record.size(), &n);
        writing_records_ = false;
        if (rc != 1) {
            r = outcome(rc, 0);
            write_wants_read_ = SSL_want_read(ssl_) != 0;
            if (SSL_want_write(ssl_) != 0) {
                // OpenSSL holds the record it made; the retry must offer the same bytes.
                pending_.assign(record.begin(), record.begin() + static_cast<std::ptrdiff_t>(
                                                                     std::min(record.size(), max_record)));
            }
            return r;
        }
        done += n;
        offset += n;
        advance();
    }
    return r;
}

IoResult TlsStream::write(const Socket& s, std::span<const native::IoSlice> parts) noexcept {
    attach(&s);
    write_wants_read_ = false;
    read_budget_ = read_slack;  // a write still in its handshake reads the peer's part of it
    const IoResult r = kernel_tls_ ? write_through_openssl(parts) : write_batched(s, parts);
    socket_ = nullptr;
    return r;
}

IoResult TlsStream::write_batched(const Socket& s, std::span<const native::IoSlice> parts) noexcept {
    std::size_t total = 0;
    for (const native::IoSlice& part : parts) {
        total += part.iov_len;
    }
    // Up to `max_sealed` of records, then one send; again while the socket takes them all. The
    // plaintext of a record the socket has not taken yet is done with (as bytes in a socket
    // buffer): the stream sends it before anything else.
    std::size_t done = 0;
    IoResult r;
    bool more = true;
    while (true) {
        if (const IoResult f = flush_queued(s); !f.error.ok()) {
            r = f;
            break;
        }
        if (queued_sent_ < queued_.size() || !more || !error_.ok()) {
            // Nothing taken: the socket is full, or (kept from write_records) the handshake waits.
            r.would_block = r.would_block || (done == 0 && queued_sent_ < queued_.size());
            break;
        }
        const std::size_t before = done;
        r = write_records(parts, before, before + max_sealed, done);
        more = done != before && done < total;
    }
    if (done != 0) {
        IoResult wrote;
        wrote.bytes = done;  // a failed send after them shows on the next write
        return wrote;
    }
    if (!error_.ok()) {
        r.error = error_;
    }
    return r;
}

IoResult TlsStream::write_through_openssl(std::span<const native::IoSlice> parts) noexcept {
    // Kernel TLS: OpenSSL's socket BIO writes, and may hold back a record the socket did not take.
    // It wants the same bytes offered again: they lead `parts` (the sender retired none of them,
    // and `holds_write` keeps the front of its queue as it is meanwhile).
    std::size_t done = 0;
    IoResult r;
    if (!pending_.empty() && error_.ok()) {
        std::size_t n = 0;
        const int rc = SSL_write_ex(ssl_, pending_.data(), pending_.size(), &n);
        if (rc != 1) {
            return outcome(rc, 0);
        }
        done = pending_.size();
        pending_.clear();
    }
    if (error_.ok()) {
        r = write_records(parts, done, SIZE_MAX, done);
    }
    if (done != 0) {
        IoResult wrote;
        wrote.bytes = done;
        return wrote;
    }
    if (!error_.ok()) {
        r.error = error_;
    }
    return r;
}

void TlsStream::shutdown_send(const Socket& s) noexcept {
    close_session(s);
    detail::shutdown_send(s);
}

bool TlsStream::has_buffered_input() const noexcept {
    // Decrypted bytes, the rest of a read cut at its budget, or whole records OpenSSL may hold (the
    // last read filled its buffer). Not `SSL_has_pending`: it is true of the start of a record
    // too, which only the socket's next bytes complete, and a peer that stops inside one would
    // have the engine read it again and again, never waiting.
    return SSL_pending(ssl_) > 0 || input_cut_ || may_hold_records_ || end_held_;
}

Readiness TlsStream::needs(Readiness wants) const noexcept {
    // A write waiting for the handshake waits for the peer's bytes, not for room in the socket
    // (which is there, and would wake the loop for nothing). Records the socket did not take wait
    // for room, whatever the channel wants.
    // A read that waits for its answers to go out waits for room, not for more input.
    return {.readable = (wants.readable && !output_backlogged()) || (wants.writable && write_wants_read_),
            .writable = (wants.writable && !write_wants_read_) || (wants.readable && read_wants_write_) ||
                        has_output()};
}

Readiness TlsStream::serves(Readiness fired, Readiness wants) const noexcept {
    // Room for its records is the stream's to use: the driver's flush sends them (`has_output`).
    return {.readable = wants.readable && (fired.readable || (read_wants_write_ && fired.writable)),
            .writable = (wants.writable && (fired.writable || (write_wants_read_ && fired.readable))) ||
                        (fired.writable && has_output())};
}

// --- The completion backend ---------------------------------------------------------------------

std::span<const std::byte> TlsStream::absorb(std::span<const std::byte> received) {
    memory_ = true;
    attach(nullptr);
    if (!error_.ok()) {
        return {};
    }
    input_ = received;
    peer_ended_ = false;
    end_held_ = false;
    const std::span<std::byte> plain = absorb_buffer();
    std::size_t total = 0;
    while (total < plain.size()) {
        std::size_t n = 0;
        const int rc = SSL_read_ex(ssl_, plain.data() + total, plain.size() - total, &n);
        if (rc != 1) {
            // Would-block: all of `received` is in OpenSSL now. A failure: absorb_error. The end
            // of the session (close_notify): absorbed_end.
            end_held_ = outcome(rc, 0).end_of_stream;
            break;
        }
        total += n;
    }
    input_ = {};
    may_hold_records_ = total == plain.size() && SSL_has_pending(ssl_) != 0;
    if (total != 0) {
        received_data_ = true;
    }
    return plain.first(total);
}

IoResult TlsStream::at_end(const IoResult& end) noexcept {
    if (!error_.ok() || !handshaking()) {
        return end;  // after the handshake, the end of the stream is the connection's, as for tcp
    }
    // Told as a read through the BIO would have told it (see `outcome`).
    os_error_ = end.error.ok() ? 0 : end.error.os_error;
    peer_ended_ = true;
    input_ = {};
    attach(nullptr);
    std::size_t n = 0;
    const int rc = SSL_read_ex(ssl_, absorb_buffer().data(), absorb_buffer().size(), &n);
    const IoResult r = outcome(rc, n);
    return r.error.ok() ? end : r;
}

std::span<const native::IoSlice> TlsStream::seal(std::span<const native::IoSlice> parts) {
    memory_ = true;
    attach(nullptr);
    // What the kernel did not send last time goes first; then what OpenSSL made meanwhile (its
    // handshake, an alert), then new records.
    in_flight_.erase(in_flight_.begin(), in_flight_.begin() + static_cast<std::ptrdiff_t>(in_flight_sent_));
    in_flight_sent_ = 0;
    sealed_plain_ = 0;
    write_wants_read_ = false;
    in_flight_.reserve(2 * max_sealed + 4096);  // once: what is left, and one seal's records
    if (error_.ok() && in_flight_.size() < max_sealed) {
        (void)write_records(parts, 0, max_sealed, sealed_plain_);
    }
    in_flight_.insert(in_flight_.end(), queued_.begin(), queued_.end());
    queued_.clear();
    if (in_flight_.empty()) {
        return {};
    }
    sealed_slice_ = native::io_slice(in_flight_.data(), in_flight_.size());
    return {&sealed_slice_, 1};
}

std::size_t TlsStream::sent(std::size_t kernel_bytes) noexcept {
    in_flight_sent_ = std::min(in_flight_sent_ + kernel_bytes, in_flight_.size());
    if (in_flight_sent_ == in_flight_.size()) {
        in_flight_.clear();
        in_flight_sent_ = 0;
        note_if_drained();
    }
    // The records the kernel did not send yet are the stream's to send (has_output): the
    // plaintext they carry is done with, as bytes in a socket buffer are.
    return std::exchange(sealed_plain_, 0);
}

bool TlsStream::has_output() const noexcept {
    return in_flight_sent_ < in_flight_.size() || queued_sent_ < queued_.size();
}

bool TlsStream::holds_write() const noexcept {
    return !pending_.empty();
}

// --- The connection's end -----------------------------------------------------------------------

bool TlsStream::handshaking() const noexcept {
    return SSL_is_init_finished(ssl_) == 0;
}

bool TlsStream::append_peer_identity(TextHeaders& headers, std::size_t reserve) const noexcept {
    return append_tls_identity(ssl_, headers, context_->verifies(), reserve);
}

void TlsStream::send_last_words(const Socket& s) noexcept {
    close_session(s);
}

void TlsStream::close_session(const Socket& s) noexcept {
    if (std::exchange(said_goodbye_, true) || !s.valid()) {
        return;
    }
    // close_notify, unless the session failed (its alert is out, or below), is not made yet, or a
    // record may be half written (it would end the peer's session inside a record): one OpenSSL
    // holds back, or one the kernel was sending when the completion backend's operations stopped.
    const bool whole = pending_.empty() && in_flight_.empty();
    if (error_.ok() && !handshaking() && whole) {
        attach(memory_ ? nullptr : &s);
        (void)SSL_shutdown(ssl_);
        ERR_clear_error();
        socket_ = nullptr;
    }
    // What is queued (an alert, close_notify) goes out in one plain send, without waiting.
    if (whole) {
        (void)flush_queued(s);
    }
}

std::size_t TlsStream::held_bytes() const noexcept {
    return sizeof(TlsStream) + tls_state_bytes + pending_.capacity() + queued_.capacity() +
           in_flight_.capacity();
}

}  // namespace tofu::detail

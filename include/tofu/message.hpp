/// @file
/// The message: binary header, text headers and body. "The message is the API": connecting,
/// listening, sending, closing and every failure report are messages.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include <tofu/status.hpp>

namespace tofu {

class Message;

/// What a message asks for. The numbering is the wire's (4 bits); 10..15 are undefined.
enum class OpCode : std::uint8_t {
    request = 0,           ///< ask for something; `more` allowed
    response = 1,          ///< answer, same `message_id` as the request; `more` allowed
    signal = 2,            ///< one-way notification; `more` allowed
    hello_request = 3,     ///< client app: connect (header `~connect_to`)
    hello_response = 4,    ///< server app: accept the connection
    bye_request = 5,       ///< graceful close, queued after pending sends
    bye_response = 6,      ///< acknowledge close; the channel closes on both sides
    bye_signal = 7,        ///< app to its own engine: abort now (never travels)
    welcome_request = 8,   ///< server app to its own engine: listen (header `~listen_on`)
    welcome_response = 9,  ///< engine to server app: listener ready or failed
};

/// The highest defined op code.
inline constexpr std::uint8_t max_op_code = 9;

/// The family an op code belongs to.
enum class MessageType : std::uint8_t { regular, welcome, hello, bye };

/// The part an op code plays in its family.
enum class MessageRole : std::uint8_t { request, response, signal };

/// True for op codes 0..9.
[[nodiscard]] constexpr bool is_defined(OpCode op) noexcept {
    return static_cast<std::uint8_t>(op) <= max_op_code;
}

/// Type of a defined op code (undefined ones read as `regular`; check `is_defined` first).
[[nodiscard]] constexpr MessageType type_of(OpCode op) noexcept {
    switch (op) {
        case OpCode::hello_request:
        case OpCode::hello_response: return MessageType::hello;
        case OpCode::bye_request:
        case OpCode::bye_response:
        case OpCode::bye_signal: return MessageType::bye;
        case OpCode::welcome_request:
        case OpCode::welcome_response: return MessageType::welcome;
        default: return MessageType::regular;
    }
}

/// Role of a defined op code (undefined ones read as `signal`; check `is_defined` first).
[[nodiscard]] constexpr MessageRole role_of(OpCode op) noexcept {
    switch (op) {
        case OpCode::request:
        case OpCode::hello_request:
        case OpCode::bye_request:
        case OpCode::welcome_request: return MessageRole::request;
        case OpCode::response:
        case OpCode::hello_response:
        case OpCode::bye_response:
        case OpCode::welcome_response: return MessageRole::response;
        default: return MessageRole::signal;
    }
}

/// The op code that answers `op`: a request maps to its response, a signal to itself, and a
/// response to itself (a response is not answered).
[[nodiscard]] constexpr OpCode echo(OpCode op) noexcept {
    switch (op) {
        case OpCode::request: return OpCode::response;
        case OpCode::hello_request: return OpCode::hello_response;
        case OpCode::bye_request: return OpCode::bye_response;
        case OpCode::welcome_request: return OpCode::welcome_response;
        default: return op;
    }
}

/// True for op codes that go over the wire (everything but ByeSignal and Welcome*).
[[nodiscard]] constexpr bool travels(OpCode op) noexcept {
    return is_defined(op) && op != OpCode::bye_signal && type_of(op) != MessageType::welcome;
}

/// The op code's name as DESIGN.md spells it, e.g. `"HelloRequest"`; `"Undefined"` for 10..15.
[[nodiscard]] std::string_view op_code_name(OpCode op) noexcept;

/// Who made a message.
enum class Origin : std::uint8_t {
    application = 0,  ///< you or your peer
    engine = 1,       ///< a report from tofu
};

/// The packed protocol byte of the binary header.
struct ProtoFields {
    OpCode op_code = OpCode::request;     ///< what the message asks for
    Origin origin = Origin::application;  ///< who made it: an application or the engine
    bool more = false;                    ///< more messages with the same `message_id` follow
    bool oob = false;                     ///< engine-internal priority flag

    /// The family of `op_code`.
    [[nodiscard]] constexpr MessageType type() const noexcept { return type_of(op_code); }
    /// The part `op_code` plays in its family.
    [[nodiscard]] constexpr MessageRole role() const noexcept { return role_of(op_code); }

    /// Op code in bits 0-3, origin bit 4, more bit 5, oob bit 6, bit 7 zero.
    [[nodiscard]] constexpr std::uint8_t to_byte() const noexcept {
        return static_cast<std::uint8_t>((static_cast<unsigned>(op_code) & 0x0FU) |
                                         (origin == Origin::engine ? 0x10U : 0U) | (more ? 0x20U : 0U) |
                                         (oob ? 0x40U : 0U));
    }

    /// Unpacks a protocol byte; the reserved bit 7 is ignored, undefined op codes are kept.
    [[nodiscard]] static constexpr ProtoFields from_byte(std::uint8_t b) noexcept {
        return ProtoFields{static_cast<OpCode>(b & 0x0FU),
                           (b & 0x10U) != 0 ? Origin::engine : Origin::application, (b & 0x20U) != 0,
                           (b & 0x40U) != 0};
    }

    /// Field-by-field equality.
    friend constexpr bool operator==(const ProtoFields&, const ProtoFields&) = default;
};

/// Channel 0: not assigned yet (HelloRequest / WelcomeRequest before `post`).
inline constexpr std::uint16_t unassigned_channel = 0;
/// The highest channel number an application sees.
inline constexpr std::uint16_t max_channel = 65534;
/// Reserved for the engine's own use.
inline constexpr std::uint16_t internal_channel = 65535;

/// The fixed part of every message; 16 bytes on the wire, big-endian.
struct BinaryHeader {
    /// Size of the encoded header on the wire.
    static constexpr std::size_t wire_size = 16;

    std::uint16_t channel_number = unassigned_channel;  ///< local number on each side
    ProtoFields proto;                                  ///< op code and flags
    AmpeStatus status = AmpeStatus::success;            ///< 0 from applications; a report's reason
    std::uint64_t message_id = 0;                       ///< 0 at post: the engine assigns one
    std::uint16_t text_headers_len = 0;                 ///< engine-internal, filled at send
    std::uint16_t body_len = 0;                         ///< engine-internal, filled at send

    /// Writes the 16 wire bytes.
    constexpr void encode(std::span<std::byte, wire_size> out) const noexcept;

    /// Reads 16 wire bytes; a status byte of 31 and up reads as `unknown_error`.
    [[nodiscard]] static constexpr BinaryHeader decode(std::span<const std::byte, wire_size> in) noexcept;

    /// Field-by-field equality.
    friend constexpr bool operator==(const BinaryHeader&, const BinaryHeader&) = default;
};

namespace detail {

/// The big-endian unsigned integer in the `sizeof(T)` bytes at `in`.
template <typename T>
[[nodiscard]] constexpr T get_be(const std::byte* in) noexcept {
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        v = static_cast<T>((v << 8U) | std::to_integer<T>(in[i]));
    }
    return v;
}

/// Writes `v` big-endian into the `sizeof(T)` bytes at `out`.
template <typename T>
constexpr void put_be(std::byte* out, T v) noexcept {
    for (std::size_t i = sizeof(T); i-- > 0;) {
        out[i] = static_cast<std::byte>(v);
        v = static_cast<T>(v >> 8U);
    }
}

}  // namespace detail

// Inline: the engine's decoder and writer run them for every frame.
constexpr void BinaryHeader::encode(std::span<std::byte, wire_size> out) const noexcept {
    detail::put_be<std::uint16_t>(out.data(), channel_number);
    out[2] = static_cast<std::byte>(proto.to_byte());
    out[3] = static_cast<std::byte>(to_raw(status));
    detail::put_be<std::uint64_t>(&out[4], message_id);
    detail::put_be<std::uint16_t>(&out[12], text_headers_len);
    detail::put_be<std::uint16_t>(&out[14], body_len);
}

constexpr BinaryHeader BinaryHeader::decode(std::span<const std::byte, wire_size> in) noexcept {
    BinaryHeader h;
    h.channel_number = detail::get_be<std::uint16_t>(in.data());
    h.proto = ProtoFields::from_byte(std::to_integer<std::uint8_t>(in[2]));
    h.status = status_from_raw(std::to_integer<std::uint8_t>(in[3]));
    h.message_id = detail::get_be<std::uint64_t>(&in[4]);
    h.text_headers_len = detail::get_be<std::uint16_t>(&in[12]);
    h.body_len = detail::get_be<std::uint16_t>(&in[14]);
    return h;
}

/// Largest text headers block and largest body, in bytes. Larger data is streamed with `more`.
inline constexpr std::size_t max_part_size = 65535;

namespace detail {

/// A growable byte buffer capped at `max_part_size`. Keeps its capacity across `clear()`, so a
/// pooled message reused for a receive does not allocate again. Exceeding the cap throws
/// `Error(limit_status)` and leaves the contents unchanged.
class ByteBuffer {
public:
    explicit ByteBuffer(AmpeStatus limit_status) noexcept : limit_status_{limit_status} {}
    ByteBuffer(const ByteBuffer&) = delete;
    ByteBuffer& operator=(const ByteBuffer&) = delete;
    /// Moves the storage; the source is left empty with no storage.
    ByteBuffer(ByteBuffer&& other) noexcept
        : data_{std::move(other.data_)},
          size_{std::exchange(other.size_, 0U)},
          capacity_{std::exchange(other.capacity_, 0U)},
          limit_status_{other.limit_status_} {}
    ByteBuffer& operator=(ByteBuffer&& other) noexcept {
        data_ = std::move(other.data_);
        size_ = std::exchange(other.size_, 0U);
        capacity_ = std::exchange(other.capacity_, 0U);
        limit_status_ = other.limit_status_;
        return *this;
    }
    ~ByteBuffer() = default;

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_.get(), size_}; }
    [[nodiscard]] std::string_view view() const noexcept {
        return {reinterpret_cast<const char*>(data_.get()), size_};
    }

    void append(std::span<const std::byte> more);
    void assign(std::span<const std::byte> bytes);
    void clear() noexcept { size_ = 0; }
    void reserve(std::size_t n);

    /// Sets the size to `n` without initialising new bytes, for the decoder to fill.
    std::span<std::byte> resize_for_overwrite(std::size_t n) {
        if (n > capacity_) {
            return grow_for_overwrite(n);
        }
        size_ = static_cast<std::uint32_t>(n);  // capacity_ never exceeds the cap
        return {data_.get(), n};
    }

private:
    void check(std::size_t n) const;
    std::span<std::byte> grow_for_overwrite(std::size_t n);

    std::unique_ptr<std::byte[]> data_;
    std::uint32_t size_ = 0;
    std::uint32_t capacity_ = 0;
    AmpeStatus limit_status_;
};

/// Where a message goes when its `MessagePtr` dies: a pool implements this.
class MessageHome {
public:
    /// Takes `msg` back; must not throw.
    virtual void take_back(Message* msg) noexcept = 0;

protected:
    MessageHome() = default;
    MessageHome(const MessageHome&) = default;
    MessageHome& operator=(const MessageHome&) = default;
    ~MessageHome() = default;
};

struct MessageAccess;

}  // namespace detail

/// Returns a message to its pool (or deletes a standalone one).
struct MessageDeleter {
    /// Sends `msg` back to its pool, or deletes it when it belongs to none.
    void operator()(Message* msg) const noexcept;
};

/// Owning pointer to a message. When it dies, the message goes back to the pool it came from.
using MessagePtr = std::unique_ptr<Message, MessageDeleter>;

/// The message body: opaque bytes, at most `max_part_size` (`invalid_body_len` beyond).
class Body {
public:
    /// The bytes (no copy).
    [[nodiscard]] std::span<const std::byte> data() const noexcept { return buf_.bytes(); }
    /// The body read as text (no copy).
    [[nodiscard]] std::string_view text() const noexcept { return buf_.view(); }
    /// Number of bytes.
    [[nodiscard]] std::size_t size() const noexcept { return buf_.size(); }
    /// True without bytes.
    [[nodiscard]] bool empty() const noexcept { return buf_.empty(); }
    /// Bytes it can hold without allocating; kept when a pooled message is reused.
    [[nodiscard]] std::size_t capacity() const noexcept { return buf_.capacity(); }

    /// Adds bytes at the end; throws `Error(invalid_body_len)` past 65535 bytes.
    void append(std::span<const std::byte> bytes) { buf_.append(bytes); }
    /// Adds text at the end; throws `Error(invalid_body_len)` past 65535 bytes.
    void append(std::string_view text) { buf_.append(std::as_bytes(std::span{text})); }
    /// Replaces the contents; throws `Error(invalid_body_len)` past 65535 bytes.
    void copy(std::span<const std::byte> bytes) { buf_.assign(bytes); }
    /// Replaces the contents with text; throws `Error(invalid_body_len)` past 65535 bytes.
    void copy(std::string_view text) { buf_.assign(std::as_bytes(std::span{text})); }
    /// Empties the body, keeping its storage.
    void reset() noexcept { buf_.clear(); }
    /// Makes room for `n` bytes ahead of appending.
    void reserve(std::size_t n) { buf_.reserve(n); }

private:
    friend struct detail::MessageAccess;
    detail::ByteBuffer buf_{AmpeStatus::invalid_body_len};
};

/// One `name:value` pair, viewing the message's storage.
struct TextHeader {
    std::string_view name;   ///< trimmed of spaces and tabs
    std::string_view value;  ///< trimmed of spaces and tabs
};

/// Text headers, kept exactly as they travel: `name:value` CR LF per header, at most
/// `max_part_size` bytes (`invalid_headers_len` beyond). Names starting with `~` are reserved
/// for tofu. Reading is tolerant: spaces and tabs around names and values are trimmed, a bare LF
/// ends a line too, and empty lines, lines without a colon or with an empty name, and lines holding
/// a CR anywhere but at their end are skipped. So every header read could be written by `append`.
class TextHeaders {
public:
    /// Walks the headers in order.
    class iterator {
    public:
        using value_type = TextHeader;           ///< what dereferencing gives
        using difference_type = std::ptrdiff_t;  ///< required of an iterator

        /// The end iterator.
        iterator() = default;
        /// The current header.
        TextHeader operator*() const noexcept { return current_; }
        /// Moves to the next header.
        iterator& operator++() noexcept {
            advance();
            return *this;
        }
        /// Moves to the next header; returns the position before.
        iterator operator++(int) noexcept {
            iterator old = *this;
            advance();
            return old;
        }
        /// Same position in the same headers.
        friend bool operator==(const iterator& a, const iterator& b) noexcept {
            return a.rest_.data() == b.rest_.data() && a.at_end_ == b.at_end_;
        }

    private:
        friend class TextHeaders;
        explicit iterator(std::string_view all) noexcept : rest_{all} { advance(); }
        void advance() noexcept;

        std::string_view rest_;
        TextHeader current_;
        bool at_end_ = true;
    };

    /// The first header.
    [[nodiscard]] iterator begin() const noexcept { return iterator{buf_.view()}; }
    /// Past the last header. (A member, not static: range-for expects `h.end()`.)
    [[nodiscard]] iterator end() const noexcept {  // NOLINT(readability-convert-member-functions-to-static)
        return iterator{};
    }

    /// Adds `name:value` CR LF (after an LF when the block ends without a line break, as raw bytes
    /// may). Throws `Error(invalid_message)` for an empty name or one holding ':' CR or LF, or a
    /// value holding CR or LF; `Error(invalid_headers_len)` past the limit.
    void append(std::string_view name, std::string_view value);

    /// The value of the first header called `name` (ASCII case-insensitive), if any.
    [[nodiscard]] std::optional<std::string_view> find(std::string_view name) const noexcept;

    /// The encoded bytes, as they travel.
    [[nodiscard]] std::span<const std::byte> data() const noexcept { return buf_.bytes(); }
    /// The encoded headers as text.
    [[nodiscard]] std::string_view text() const noexcept { return buf_.view(); }
    /// Size of the encoded headers in bytes.
    [[nodiscard]] std::size_t size() const noexcept { return buf_.size(); }
    /// True without headers.
    [[nodiscard]] bool empty() const noexcept { return buf_.empty(); }

    /// Replaces the contents with already encoded header bytes (not validated; read tolerantly).
    void assign_raw(std::span<const std::byte> bytes) { buf_.assign(bytes); }
    /// Removes every header, keeping the storage.
    void reset() noexcept { buf_.clear(); }

private:
    friend struct detail::MessageAccess;
    detail::ByteBuffer buf_{AmpeStatus::invalid_headers_len};
};

/// True for names reserved for tofu (they start with `~`).
[[nodiscard]] constexpr bool is_reserved_header(std::string_view name) noexcept {
    return !name.empty() && name.front() == '~';
}

/// Reserved header names.
namespace header {
inline constexpr std::string_view connect_to = "~connect_to";  ///< HelloRequest: where to connect
/// HelloRequest: this connect's own timeout, in place of `Options::connect_timeout`: whole
/// milliseconds, 0 to 2147483647, 0 for none (e.g. `~connect_timeout:2500`). Any other value
/// makes `post` throw `Error(not_allowed)`. Like `~connect_to`, it is the engine's and never goes
/// on the wire.
inline constexpr std::string_view connect_timeout = "~connect_timeout";
inline constexpr std::string_view listen_on = "~listen_on";  ///< WelcomeRequest: where to listen
/// On every HelloRequest a listener delivers: who connected, as the engine saw it (never what the
/// peer claims): `tcp|IP|PORT`, or `uds|uid=U|gid=G|pid=P` from the socket's credentials (`uds`
/// alone on Windows, which does not give them).
inline constexpr std::string_view peer = "~peer";
/// On every HelloRequest a listener delivers: the channel number of the listener that accepted the
/// connection (e.g. `~listener:3`), the number its WelcomeRequest was given, so a group with
/// several listeners knows which one a client came through. Written by the engine only.
inline constexpr std::string_view listener = "~listener";
/// On a message that comes back because its channel closed: the engine had written it, but the
/// peer's engine never confirmed receiving it, so it may or may not have arrived (value `1`). A
/// message without it was never written. Such a message comes back as its binary header alone.
inline constexpr std::string_view unconfirmed = "~unconfirmed";

// TLS settings of one listener (on its WelcomeRequest) or one connect (on its HelloRequest), each
// in place of its `Options::tls` default. Like `~connect_to`, they are the engine's and never go
// on the wire.
inline constexpr std::string_view tls_cert = "~tls_cert";  ///< `TlsOptions::certificate_chain`
inline constexpr std::string_view tls_key = "~tls_key";    ///< `TlsOptions::private_key`
inline constexpr std::string_view tls_ca = "~tls_ca";      ///< `TlsOptions::ca`
/// `TlsOptions::verify`: `peer` or `none`.
inline constexpr std::string_view tls_verify = "~tls_verify";
/// `TlsOptions::min_version`: `1.2` or `1.3`.
inline constexpr std::string_view tls_min_version = "~tls_min_version";
/// HelloRequest: the name to send (SNI) and to check the server's certificate against, in place
/// of the address's host (e.g. connecting to an IP address a certificate does not name).
inline constexpr std::string_view tls_server_name = "~tls_server_name";

// What the engine says of a TLS peer: on the HelloRequest a `tls` listener delivers (the client),
// and on the HelloResponse a `tls` client receives (the server). Written by the engine only (a
// peer's `~` headers never reach the application), and only for a certificate that was verified.
/// The certificate's subject, as RFC 4514 writes it (e.g. `CN=client,O=Example`); special
/// characters escaped, never a raw CR or LF.
inline constexpr std::string_view peer_subject = "~peer_subject";
/// One per subject alternative name, in the certificate's order: `DNS:name`, `IP:address`,
/// `email:address` or `URI:uri` (escaped as `~peer_subject`). At most 64, each value at most
/// 1,024 bytes, all within the header block: a value ending in "..." was cut there, or is the
/// last one reported of a longer list (docs/security.md, "Truncation").
inline constexpr std::string_view peer_san = "~peer_san";
/// The TLS version and cipher suite agreed, e.g. `TLSv1.3 TLS_AES_256_GCM_SHA384`.
inline constexpr std::string_view tls = "~tls";
/// Whether the kernel does the record layer (kernel TLS): `off`, `send`, `receive` or
/// `send,receive`.
inline constexpr std::string_view tls_ktls = "~tls_ktls";
}  // namespace header

/// Binary header + text headers + body. Data and command at once.
///
/// Aligned to a cache line: a message crosses threads (application, engine, pool) many times a
/// second, and it then moves as two whole lines instead of straddling three.
class alignas(64) Message {
public:
    BinaryHeader bhdr;  ///< channel, op code and flags, status, message id
    TextHeaders thdrs;  ///< `name:value` pairs; names starting with `~` are tofu's
    Body body;          ///< opaque bytes

    /// A standalone message that belongs to no pool; it is deleted when its pointer dies, or
    /// adopted by a pool when handed to `Ampe::put`.
    [[nodiscard]] static MessagePtr create();

    /// A standalone deep copy (headers, text headers and body).
    [[nodiscard]] MessagePtr clone() const;

    /// True when tofu made this message (a report), false when an application did.
    [[nodiscard]] bool is_from_engine() const noexcept { return bhdr.proto.origin == Origin::engine; }
    /// True when more messages with the same `message_id` follow.
    [[nodiscard]] bool has_more() const noexcept { return bhdr.proto.more; }

    /// Back to the state of a new message; buffer capacity is kept.
    void reset() noexcept;

    Message(const Message&) = delete;
    Message& operator=(const Message&) = delete;
    Message(Message&&) = delete;
    Message& operator=(Message&&) = delete;
    ~Message() = default;

private:
    friend struct detail::MessageAccess;
    Message() = default;

    detail::MessageHome* home_ = nullptr;  ///< pool to return to; null for standalone
    Message* next_ = nullptr;              ///< intrusive link for engine queues and pools
    void* group_tag_ = nullptr;            ///< engine-internal: the group that posted it
    std::uint64_t inbox_ticket_ = 0;       ///< engine-internal: its place in the engine's inbox
    Message* ahead_ = nullptr;             ///< engine-internal: in a receive queue, one to prefetch
    std::array<std::byte, BinaryHeader::wire_size> wire_header_{};  ///< encoded at send
};

}  // namespace tofu

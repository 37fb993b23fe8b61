// Helpers for the engine's network tests (tests/net, tests/stress): transports and their
// addresses, waiting for a message with a deadline, the listen / connect / accept / close
// handshakes, a raw-socket peer for wire-hygiene tests, and fd / RSS readings for leak checks.
//
// What drives an engine here uses tofu's public API only, and this header includes nothing else of
// tofu's. The raw-socket peer and listener are no part of tofu, but engine_helpers.cpp builds them
// on three of tofu's internal headers (src/, on the test support library's include path):
// - net/native_socket.hpp, where POSIX and Winsock differ: a socket held as an int (handle()
//   makes it Winsock's SOCKET), the last error, close, setsockopt's argument type, send without
//   SIGPIPE, recv, EINTR against WSAEINTR, SHUT_WR against SD_SEND, the errors that mean a peer is
//   gone, Winsock's start-up, and the OS socket headers (ws2tcpip.h and afunix.h on Windows);
// - net/socket.hpp, for detail::os_error_text alone: an OS error as text (FormatMessage on
//   Windows, where strerror does not know Winsock's codes);
// - message/frame_codec.hpp, for detail::confirmation_op: the op code of the engines' own
//   confirmations, which the public API does not name.
// Writing these again here would make a second copy of that OS split to keep in step with the
// engine's; chaos_proxy.cpp and net/connect_listen_test.cpp use net/native_socket.hpp too.
//
// Failure style: a helper that cannot do what it promises throws `TestFailure` with a message that
// says what was expected and what arrived instead. GoogleTest reports an exception escaping a test
// body as a failure of that test, with the message. In threads, use `run_concurrently`, which
// catches and reports.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/status.hpp>

#include "support/process_stats.hpp"

namespace tofu::test {

/// How long a test waits for one expected event before it fails. Generous on purpose: sanitizer
/// builds on a loaded machine running `ctest -j` are slow, and a passing test never waits this long.
inline constexpr std::chrono::seconds event_timeout{20};

/// Thrown by the helpers when an expected event does not happen or is wrong.
class TestFailure : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// --- transports ----------------------------------------------------------------------------------

/// The stream transports tofu runs over.
enum class Transport : std::uint8_t {
    tcp4,          ///< TCP on 127.0.0.1
    tcp6,          ///< TCP on ::1
    uds_path,      ///< Unix domain socket on a filesystem path
    uds_abstract,  ///< Linux abstract-namespace socket (`@name`)
    tls4,          ///< TLS over TCP on 127.0.0.1 (the test PKI's certificates: support/tls_pki.hpp)
};

/// "tcp4", "tcp6", "uds_path", "uds_abstract": usable in test names.
[[nodiscard]] std::string_view transport_name(Transport transport) noexcept;

/// Lets GoogleTest print a `Transport` parameter readably.
void PrintTo(Transport transport, std::ostream* os);  // NOLINT(readability-identifier-naming): gtest's name

/// Every transport of this platform (the abstract one only where `has_abstract_uds`).
[[nodiscard]] std::vector<Transport> all_transports();

/// One TCP and one UDS transport: for tests whose point is not the transport.
[[nodiscard]] std::vector<Transport> tcp4_and_uds_transports();

/// `transports` and, where this build has TLS, `tls4`: for tests whose promises must hold over
/// TLS too (tests that speak raw frames to the engine cannot take it).
[[nodiscard]] std::vector<Transport> with_tls(std::vector<Transport> transports);

/// True where this build of tofu has the tls transport (TOFU_TLS).
[[nodiscard]] bool tls_built() noexcept;

/// Test-name suffix for `INSTANTIATE_TEST_SUITE_P`.
[[nodiscard]] std::string transport_test_name(const ::testing::TestParamInfo<Transport>& info);

/// Why `transport` cannot be tested on this machine (e.g. no IPv6 loopback), or nothing.
[[nodiscard]] std::optional<std::string> transport_unavailable(Transport transport);

/// UDS on a filesystem path where this system has UDS, else TCP over IPv4: for tests that want a
/// second kind of listener, or any that works.
[[nodiscard]] Transport uds_or_tcp4();

/// A new, unique UDS path in the temporary directory. The file is removed when the process exits.
[[nodiscard]] std::string temp_socket_path();

/// Where a server of `transport` listens: TCP port 0 on the loopback address (the WelcomeResponse
/// tells the real port), a fresh temporary path, or a fresh abstract name.
[[nodiscard]] Address server_address(Transport transport);

/// The client address that reaches a listener whose WelcomeResponse read `~listen_on:<listen_on>`.
/// Throws `TestFailure` when the value does not parse as a usable server address.
[[nodiscard]] Address client_address(std::string_view listen_on);

/// The server address a `~listen_on` value names (to listen on it again).
[[nodiscard]] Address server_address_from(std::string_view listen_on);

// --- messages ------------------------------------------------------------------------------------

/// One line about a message, for failure output.
[[nodiscard]] std::string describe(const Message& msg);

/// The `~reason` header of a `channel_closed` report, or "" when absent.
[[nodiscard]] std::string reason_of(const Message& msg);

/// The value of text header `name`, or "<missing>" when absent: comparable in EXPECT_EQ.
[[nodiscard]] std::string header_value(const Message& msg, std::string_view name);

/// True for an engine Signal with `status` on `channel`.
[[nodiscard]] bool is_engine_signal(const Message& msg, AmpeStatus status, std::uint16_t channel);

/// True for the `channel_closed` report of `channel`.
[[nodiscard]] bool is_channel_closed(const Message& msg, std::uint16_t channel);

/// True for a `channel_closed` report of any channel.
[[nodiscard]] bool is_any_channel_closed(const Message& msg);

/// A message from `ampe`'s pool (allocating when empty) with the given op code, channel, id, body.
[[nodiscard]] MessagePtr make_message(Ampe& ampe, OpCode op, std::uint16_t channel,
                                      std::uint64_t message_id = 0, std::string_view body = {});

/// `n` bytes of a deterministic pattern that depends on `seed` (so a shifted or mixed-up copy
/// does not compare equal).
[[nodiscard]] std::vector<std::byte> pattern_bytes(std::size_t n, std::uint64_t seed);

/// True when `bytes` equals `pattern_bytes(bytes.size(), seed)` and has `size` bytes; allocates
/// nothing (for tests that watch the process's memory).
[[nodiscard]] bool matches_pattern(std::span<const std::byte> bytes, std::size_t size, std::uint64_t seed);

/// True when `a` and `b` hold the same bytes.
[[nodiscard]] inline bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
    return std::ranges::equal(a, b);
}

/// How much bigger the soak tests run: the `TOFU_SOAK` environment variable (1 to 100), 1 when
/// unset. CI runs the bounded size (1); `TOFU_SOAK=10` gives the full soak (10,000 reconnects,
/// 1,000 connections x 1,000 messages).
[[nodiscard]] std::size_t soak_factor();

/// The bytes of a string.
[[nodiscard]] std::span<const std::byte> bytes_of(std::string_view text) noexcept;

/// Turns a received request into its answer in place: the op code becomes `echo(op)`, the message
/// id is kept, text headers and body are cleared.
void make_answer(Message& msg);

// --- receiving -----------------------------------------------------------------------------------

using MessagePredicate = std::function<bool(const Message&)>;

/// The next message of `group`; throws `TestFailure` when none arrives within `timeout`.
[[nodiscard]] MessagePtr receive(ChannelGroup& group, std::chrono::nanoseconds timeout = event_timeout);

/// Receives until a message matches `matches` and returns it. Messages that do not match go to
/// `skipped` when given, else back to the pool. Throws `TestFailure` naming `what` and the last
/// skipped messages when `timeout` passes first.
[[nodiscard]] MessagePtr wait_for(ChannelGroup& group, const MessagePredicate& matches, std::string_view what,
                                  std::vector<MessagePtr>* skipped = nullptr,
                                  std::chrono::nanoseconds timeout = event_timeout);

/// `wait_for` a message of op code `op` on `channel`.
[[nodiscard]] MessagePtr wait_for_op(ChannelGroup& group, OpCode op, std::uint16_t channel,
                                     std::vector<MessagePtr>* skipped = nullptr);

/// `wait_for` the `channel_closed` report of `channel`.
[[nodiscard]] MessagePtr wait_channel_closed(ChannelGroup& group, std::uint16_t channel,
                                             std::vector<MessagePtr>* skipped = nullptr);

/// How many of `messages` are the `channel_closed` report of `channel`.
[[nodiscard]] std::size_t count_channel_closed(const std::vector<MessagePtr>& messages,
                                               std::uint16_t channel);

/// Everything already in `group`'s receive queue: posts a `receiver_update` sentinel (FIFO with the
/// queue) and returns what arrives before it.
[[nodiscard]] std::vector<MessagePtr> drain(ChannelGroup& group);

/// Everything `group` receives until the engine has processed every message posted to it before
/// this call (its inbox is first in, first out): posts a HelloRequest that fails at once (a UDS
/// path that does not exist) and returns what arrives before that Hello's `channel_closed`,
/// the barrier's own messages left out. Use it to check that nothing more comes back.
[[nodiscard]] std::vector<MessagePtr> until_posted_processed(Ampe& ampe, ChannelGroup& group);

// --- handshakes ----------------------------------------------------------------------------------

/// A listener that answered its WelcomeRequest with success.
struct Listener {
    std::uint16_t channel = 0;  ///< the listener's channel number
    std::string listen_on;      ///< `~listen_on` of the WelcomeResponse: the address actually bound
    Address client_address;     ///< where a client connects to reach it
};

/// Posts a WelcomeRequest for `address` and waits for its successful WelcomeResponse (checked:
/// origin engine, status success, same channel, a `~listen_on` header). Throws `TestFailure`.
/// A `tls` listener serves the test PKI's server certificate (`~tls_cert`, `~tls_key`).
[[nodiscard]] Listener start_listener(Ampe& ampe, ChannelGroup& group, const Address& address);

/// `start_listener` on `server_address(transport)`.
[[nodiscard]] Listener start_listener(Ampe& ampe, ChannelGroup& group, Transport transport);

/// A HelloRequest for `to` from `ampe`'s pool, not posted yet (add headers and body, then post).
/// To a `tls` address it trusts the test PKI's CA (`~tls_ca`).
[[nodiscard]] MessagePtr hello_message(Ampe& ampe, const Address& to);

/// Waits for the HelloResponse of the Hello posted on `channel`; throws `TestFailure` when the
/// Hello comes back or the channel closes instead. Returns the HelloResponse.
MessagePtr wait_hello_response(ChannelGroup& group, std::uint16_t channel,
                               std::vector<MessagePtr>* skipped = nullptr);

/// Posts a HelloRequest to `to` and waits for the server's HelloResponse. Someone must accept on
/// the server side (another thread, or use `establish`). Returns the client's channel number.
[[nodiscard]] std::uint16_t connect_client(Ampe& ampe, ChannelGroup& group, const Address& to);

/// Waits for the next peer's HelloRequest in `server_group` (origin application) and returns it.
[[nodiscard]] MessagePtr wait_hello_request(ChannelGroup& server_group,
                                            std::vector<MessagePtr>* skipped = nullptr);

/// Answers a received HelloRequest with HelloResponse (same message id). Returns its channel.
std::uint16_t accept_hello(ChannelGroup& server_group, MessagePtr hello);

/// `accept_hello(wait_hello_request(...))`: the server channel of the next client.
[[nodiscard]] std::uint16_t accept_client(ChannelGroup& server_group,
                                          std::vector<MessagePtr>* skipped = nullptr);

/// Both ends of one connection.
struct Connection {
    std::uint16_t client = 0;  ///< channel number on the client side
    std::uint16_t server = 0;  ///< channel number on the server side
};

/// Connects a client to `to` and accepts it in `server_group`, from the calling thread.
[[nodiscard]] Connection establish(Ampe& client_ampe, ChannelGroup& client_group, ChannelGroup& server_group,
                                   const Address& to);

/// Graceful close driven from one thread: `initiator` posts ByeRequest, `responder` answers with
/// ByeResponse; checks that each side then gets `channel_closed` with reason `success` and that the
/// initiator receives the ByeResponse before it. Throws `TestFailure`.
void close_gracefully(Ampe& initiator_ampe, ChannelGroup& initiator, std::uint16_t initiator_channel,
                      ChannelGroup& responder, std::uint16_t responder_channel);

/// The initiator's half of a graceful close, when another thread runs the responder: posts
/// ByeRequest, waits for ByeResponse and then `channel_closed` with reason `success`.
void close_and_wait(Ampe& ampe, ChannelGroup& group, std::uint16_t channel);

/// Sends one Request on `client.client`, answers it on the server side with a Response carrying a
/// different body, and checks what the client gets back. Proves a connection works end to end.
void round_trip(Ampe& client_ampe, ChannelGroup& client_group, ChannelGroup& server_group,
                const Connection& connection, std::string_view tag);

/// What `serve_echo` did.
struct EchoStats {
    std::size_t accepted = 0;            ///< HelloRequests answered with HelloResponse
    std::size_t echoed = 0;              ///< Requests answered with a Response
    std::size_t closed = 0;              ///< `channel_closed` reports of IO channels
    std::size_t closed_not_success = 0;  ///< those whose reason was not `success`
};

/// An echo server on `group` (whose listeners are already open): accepts every HelloRequest,
/// answers every Request with a Response carrying the same id, text headers and body, answers
/// ByeRequest with ByeResponse, and returns once `closes` channels have closed, or early when it
/// finds `*stop` set on a `receiver_update` (set it, then call `group.update_receiver()`, to end the
/// server after the clients failed). Throws `TestFailure` when `timeout` passes first, or on a
/// message it does not expect.
EchoStats serve_echo(ChannelGroup& group, std::size_t closes, std::chrono::nanoseconds timeout,
                     const std::atomic<bool>* stop = nullptr);

// --- threads -------------------------------------------------------------------------------------

/// Runs `body(i)` for i in [0, threads) on that many threads and joins them. An exception escaping
/// a thread is reported as a test failure (with the thread's index) after the join.
void run_concurrently(std::size_t threads, const std::function<void(std::size_t)>& body);

// --- raw socket peer -----------------------------------------------------------------------------

/// One frame as read off a socket.
struct RawFrame {
    BinaryHeader header;
    std::vector<std::byte> text_headers;
    std::vector<std::byte> body;

    [[nodiscard]] std::string_view body_text() const noexcept;
    [[nodiscard]] std::string_view text_headers_text() const noexcept;
};

/// The wire bytes of one frame; the length fields of `bhdr` are set from the parts.
[[nodiscard]] std::vector<std::byte> encode_frame(BinaryHeader bhdr, std::string_view text_headers,
                                                  std::span<const std::byte> body);

/// A HelloRequest frame as a conforming client would send it, with `~connect_to` and any extra
/// already encoded text headers (`name:value\r\n`...).
[[nodiscard]] std::vector<std::byte> hello_frame(std::uint16_t channel, std::uint64_t message_id,
                                                 std::string_view extra_headers = {},
                                                 std::string_view body = {});

/// A confirmation frame (op code 10, negotiated by `~confirm:1`) saying `count` frames arrived,
/// as an engine writes it.
[[nodiscard]] std::vector<std::byte> confirmation_frame(std::uint64_t count);

class RawPeer;
/// The next frame from `peer` that is not a confirmation (an engine that took the offer confirms
/// what the peer sent); nothing when the connection ends first.
[[nodiscard]] std::optional<RawFrame> read_past_confirmations(RawPeer& peer);

/// A blocking socket connected to a TCP (a TLS address: its TCP) or UDS client address, with send and receive
/// timeouts (TCP_NODELAY on TCP). Throws `TestFailure` when it cannot connect.
[[nodiscard]] int connect_raw(const Address& to, std::chrono::milliseconds io_timeout);

/// A peer made of a plain blocking socket (receive and send timeouts set), that speaks to a
/// tofu listener byte by byte: to send what a conforming peer never would and read what comes back.
class RawPeer {
public:
    /// Connects to a TCP or UDS client address; to a TLS one it makes the TLS handshake too (and
    /// then speaks inside TLS). Throws `TestFailure` when it cannot.
    explicit RawPeer(const Address& to, std::chrono::milliseconds io_timeout = event_timeout);
    /// Takes over a connected socket (one `RawListener` accepted); timeouts as above.
    RawPeer(int connected_fd, std::chrono::milliseconds io_timeout);
    RawPeer(const RawPeer&) = delete;
    RawPeer& operator=(const RawPeer&) = delete;
    RawPeer(RawPeer&&) = delete;
    RawPeer& operator=(RawPeer&&) = delete;
    ~RawPeer();

    /// Sends every byte. False when the other side has already closed or reset the connection.
    [[nodiscard]] bool send(std::span<const std::byte> bytes);

    /// Sends the bytes one `send` call per byte (TCP_NODELAY is set), to split a frame everywhere.
    [[nodiscard]] bool send_byte_by_byte(std::span<const std::byte> bytes);

    /// Sends `frame` again and again until a send waits longer than the send timeout (the other
    /// side stopped reading), the connection ends, or `max_bytes` went; returns the bytes sent.
    std::size_t send_until_blocked(std::span<const std::byte> frame, std::size_t max_bytes);

    /// Half-closes: the other side reads end of stream.
    void shutdown_write();

    /// Closes abortively (SO_LINGER 0): the other side sees the connection reset.
    void reset();

    /// Reads one whole frame; nothing when the connection ends (EOF or reset) first. Throws
    /// `TestFailure` when nothing arrives within the timeout.
    [[nodiscard]] std::optional<RawFrame> read_frame();

    /// Reads and discards until the connection ends (EOF or reset); returns how many bytes were
    /// discarded. Throws `TestFailure` on timeout.
    std::size_t wait_closed();

private:
    enum class ReadResult : std::uint8_t { ok, closed };
    ReadResult read_exact(std::span<std::byte> out);
    /// One send or recv, through TLS when the peer speaks it.
    long send_some(const std::byte* data, std::size_t size);
    long recv_some(std::byte* data, std::size_t size);

    int fd_ = -1;
    void* tls_ = nullptr;  ///< to a `tls` address: its TLS session (support/raw_tls.hpp)
};

/// A plain listening socket on TCP loopback (a port the OS picks), for a test to play the server
/// a tofu client connects to.
class RawListener {
public:
    RawListener();
    RawListener(const RawListener&) = delete;
    RawListener& operator=(const RawListener&) = delete;
    RawListener(RawListener&&) = delete;
    RawListener& operator=(RawListener&&) = delete;
    ~RawListener();

    /// Where a client connects.
    [[nodiscard]] const Address& client_address() const noexcept { return client_address_; }

    /// Waits up to `event_timeout` for one connection and returns it as a raw peer.
    [[nodiscard]] std::unique_ptr<RawPeer> accept(std::chrono::milliseconds io_timeout = event_timeout);

private:
    int fd_ = -1;
    Address client_address_;
};

// --- leak checks (the counters they read are in process_stats.hpp) ------------------------------

/// Open descriptors before a test's engines, counted after one engine came and went: a poller
/// library may keep descriptors of its own for the whole process from its first use (libkqueue,
/// the kqueue emulation, keeps two), and those are not the engine's to give back.
[[nodiscard]] std::size_t descriptor_baseline();

/// True when the open descriptors come back to `baseline` (or below) within `event_timeout`. An
/// engine closes its descriptors before its destructor returns; libkqueue frees its own parts of a
/// closed kqueue on a thread of its own, a moment later (so under libkqueue the baseline itself may
/// still hold some of the first engine's: "or below").
[[nodiscard]] bool descriptors_back_to(std::size_t baseline);

/// What a growth check compares: the resident set and the heap in use.
struct MemoryUse {
    std::size_t resident;
    std::size_t heap;
};
[[nodiscard]] MemoryUse memory_use();

/// Fails the current test when memory grew by more than `bound` since `before`: the heap in every
/// build, the resident set too where the allocator reuses what is freed (not under a sanitizer).
/// `over` says what ran in between ("1000 reconnects"). Records both growths, in KiB, as test
/// properties.
void expect_memory_growth_within(const MemoryUse& before, std::size_t bound, std::string_view over);

/// CPU time (user + system) this process used while the calling thread waited `window`: with
/// nothing to do, an engine that spins shows here. A measurement window, not a synchronization.
[[nodiscard]] std::chrono::duration<double> cpu_time_while_idle(std::chrono::milliseconds window);

/// CPU the engines may use in an idle second: far below what one spinning thread burns (~1 s), far
/// above what a sleeping engine does (~0), with room for a loaded machine.
inline constexpr double idle_cpu_budget = 0.3;

/// Fails the current test when this process uses `idle_cpu_budget` seconds of CPU or more over one
/// idle second: an engine is spinning.
void expect_idle_second();

/// Checks `condition` until it holds or `timeout` passes; returns its last value. For states the
/// API reports no event for (e.g. the fd count settling after the last `channel_closed`).
[[nodiscard]] bool eventually(const std::function<bool()>& condition,
                              std::chrono::nanoseconds timeout = event_timeout);

}  // namespace tofu::test

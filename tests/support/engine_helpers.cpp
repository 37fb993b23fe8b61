#include "support/engine_helpers.hpp"

#if defined(TOFU_TEST_TLS)
#include "support/raw_tls.hpp"
#include "support/tls_pki.hpp"
#endif

#if defined(_WIN32)
#include <winsock2.h>
// windows.h after winsock2.h: first, it would bring the old winsock.h.
#include <windows.h>
#else
#include <poll.h>
#include <sys/select.h>
#include <sys/time.h>
#endif

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>
#include <variant>

#include <tofu/options.hpp>
#include <tofu/testing.hpp>

// tofu's internal headers, for the raw-socket peer only (engine_helpers.hpp says what and why).
#include "message/frame_codec.hpp"
#include "net/native_socket.hpp"
#include "net/socket.hpp"

namespace tofu::test {
namespace {

using Clock = std::chrono::steady_clock;

/// UDS paths made by `temp_socket_path`, removed when the process exits.
class TempPaths {
public:
    TempPaths() = default;
    TempPaths(const TempPaths&) = delete;
    TempPaths& operator=(const TempPaths&) = delete;
    TempPaths(TempPaths&&) = delete;
    TempPaths& operator=(TempPaths&&) = delete;
    ~TempPaths() {
        for (const auto& path : paths_) {
            std::error_code ignored;
            std::filesystem::remove(path, ignored);
        }
    }

    void add(const std::string& path) {
        const std::lock_guard lock{mutex_};
        paths_.push_back(path);
    }

private:
    std::mutex mutex_;
    std::vector<std::string> paths_;
};

TempPaths& temp_paths() {
    static TempPaths paths;
    return paths;
}

namespace native = detail::native;

std::string errno_text(int error) {
    return detail::os_error_text(error);
}

/// A blocking stream socket for a raw peer (Winsock started first).
int open_socket(int family, int type, int protocol) {
    native::start_sockets();
    return static_cast<int>(::socket(family, type, protocol));
}

bool can_bind_ipv6_loopback() {
    const int fd = open_socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) {
        return false;
    }
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_loopback;
    addr.sin6_port = 0;
    const bool ok =
        ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd, 1) == 0;
    native::close_socket(fd);
    return ok;
}

void set_timeouts(int fd, std::chrono::milliseconds timeout) {
#if defined(_WIN32)
    const auto tv = static_cast<DWORD>(timeout.count());  // Winsock counts milliseconds
#else
    timeval tv{};
    tv.tv_sec = static_cast<decltype(tv.tv_sec)>(timeout.count() / 1000);
    tv.tv_usec = static_cast<decltype(tv.tv_usec)>((timeout.count() % 1000) * 1000);
#endif
    if (!native::set_option(fd, SOL_SOCKET, SO_RCVTIMEO, tv) ||
        !native::set_option(fd, SOL_SOCKET, SO_SNDTIMEO, tv)) {
        const int error = native::last_error();
        native::close_socket(fd);
        throw TestFailure{"raw peer: setsockopt timeouts: " + errno_text(error)};
    }
#if defined(SO_NOSIGPIPE)
    const int one = 1;
    (void)native::set_option(fd, SOL_SOCKET, SO_NOSIGPIPE, one);
#endif
}

/// Connects the blocking socket `fd`; 0, or the error. A connect a signal interrupts goes on in the
/// background (POSIX), so then this waits for its outcome rather than fail or connect again.
int connect_blocking(int fd, const sockaddr* to, native::socklen length, std::chrono::milliseconds timeout) {
    if (::connect(fd, to, length) == 0) {
        return 0;
    }
    int error = native::last_error();
#if !defined(_WIN32)
    if (error == EINTR) {
        pollfd writable{fd, POLLOUT, 0};
        int ready = 0;
        do {
            ready = ::poll(&writable, 1, static_cast<int>(timeout.count()));
        } while (ready < 0 && errno == EINTR);
        socklen_t size = sizeof error;
        if (ready == 1) {
            (void)::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
        } else {
            error = ready == 0 ? ETIMEDOUT : errno;
        }
    }
#else
    (void)timeout;  // Winsock's blocking connect is not interrupted by signals
#endif
    return error;
}

int connect_tcp(const TcpClientAddress& to, std::chrono::milliseconds timeout) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    native::start_sockets();
    const std::string port = std::to_string(to.port);
    if (const int rc = ::getaddrinfo(to.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        throw TestFailure{"raw peer: cannot resolve " + to.to_string() + ": " + ::gai_strerror(rc)};
    }
    std::string errors;
    int fd = -1;
    for (const addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
        fd = open_socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            errors += " socket: " + errno_text(native::last_error());
            continue;
        }
        set_timeouts(fd, timeout);
        if (const int error =
                connect_blocking(fd, ai->ai_addr, static_cast<native::socklen>(ai->ai_addrlen), timeout);
            error != 0) {
            errors += " connect: " + errno_text(error);
            native::close_socket(fd);
            fd = -1;
        }
    }
    ::freeaddrinfo(found);
    if (fd < 0) {
        throw TestFailure{"raw peer: cannot connect to " + to.to_string() + ":" + errors};
    }
    const int one = 1;
    (void)native::set_option(fd, IPPROTO_TCP, TCP_NODELAY, one);
    return fd;
}

int connect_uds(const UdsClientAddress& to, std::chrono::milliseconds timeout) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (to.path.empty() || to.path.size() >= sizeof addr.sun_path) {
        throw TestFailure{"raw peer: UDS path does not fit sockaddr_un: " + to.path};
    }
    // A filesystem path is NUL-terminated; an abstract name (`@name`) starts with a NUL byte and
    // its length is exactly the name's (no padding), the usual Linux convention.
    std::memcpy(static_cast<char*>(addr.sun_path), to.path.data(), to.path.size());
    native::socklen len = 0;
    if (to.path.front() == '@') {
        addr.sun_path[0] = '\0';
        len = static_cast<native::socklen>(offsetof(sockaddr_un, sun_path) + to.path.size());
    } else {
        len = static_cast<native::socklen>(offsetof(sockaddr_un, sun_path) + to.path.size() + 1);
    }
    const int fd = open_socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        throw TestFailure{"raw peer: socket: " + errno_text(native::last_error())};
    }
    set_timeouts(fd, timeout);
    if (const int error = connect_blocking(fd, reinterpret_cast<const sockaddr*>(&addr), len, timeout);
        error != 0) {
        native::close_socket(fd);
        throw TestFailure{"raw peer: cannot connect to uds|" + to.path + ": " + errno_text(error)};
    }
    return fd;
}

bool is_closed_error(int error) {
#if defined(_WIN32)
    return native::peer_gone(error) || error == WSAENOTCONN;
#else
    return error == ECONNRESET || error == EPIPE || error == ENOTCONN || error == ECONNABORTED;
#endif
}

bool is_timeout_error(int error) {
#if defined(_WIN32)
    return error == WSAETIMEDOUT || error == WSAEWOULDBLOCK;  // SO_RCVTIMEO expired
#else
    return error == EAGAIN || error == EWOULDBLOCK;
#endif
}

}  // namespace

int connect_raw(const Address& to, std::chrono::milliseconds io_timeout) {
    if (const auto* tcp = std::get_if<TcpClientAddress>(&to)) {
        return connect_tcp(*tcp, io_timeout);
    }
    if (const auto* tls = std::get_if<TlsClientAddress>(&to)) {
        return connect_tcp(TcpClientAddress{tls->host, tls->port}, io_timeout);  // its bytes, as they are
    }
    if (const auto* uds = std::get_if<UdsClientAddress>(&to)) {
        return connect_uds(*uds, io_timeout);
    }
    throw TestFailure{"raw peer: not a client address: " + to_string(to)};
}

// --- transports ----------------------------------------------------------------------------------

std::string_view transport_name(Transport transport) noexcept {
    switch (transport) {
        case Transport::tcp4: return "tcp4";
        case Transport::tcp6: return "tcp6";
        case Transport::uds_path: return "uds_path";
        case Transport::uds_abstract: return "uds_abstract";
        case Transport::tls4: return "tls4";
    }
    return "unknown";
}

void PrintTo(Transport transport, std::ostream* os) {  // NOLINT(readability-identifier-naming)
    *os << transport_name(transport);
}

std::vector<Transport> all_transports() {
    std::vector<Transport> out{Transport::tcp4, Transport::tcp6, Transport::uds_path};
    if constexpr (has_abstract_uds) {
        out.push_back(Transport::uds_abstract);
    }
    return out;
}

std::vector<Transport> tcp4_and_uds_transports() {
    return {Transport::tcp4, Transport::uds_path};
}

bool tls_built() noexcept {
#if defined(TOFU_TEST_TLS)
    return true;
#else
    return false;
#endif
}

std::vector<Transport> with_tls(std::vector<Transport> transports) {
    if (tls_built()) {
        transports.push_back(Transport::tls4);
    }
    return transports;
}

std::string transport_test_name(const ::testing::TestParamInfo<Transport>& info) {
    return std::string{transport_name(info.param)};
}

std::optional<std::string> transport_unavailable(Transport transport) {
    if (transport == Transport::tcp6) {
        static const bool ipv6 = can_bind_ipv6_loopback();
        if (!ipv6) {
            return "this machine cannot bind a TCP socket to ::1 (no IPv6 loopback)";
        }
    }
    if (transport == Transport::uds_abstract && !has_abstract_uds) {
        return "no abstract UDS namespace on this OS";
    }
    if ((transport == Transport::uds_path || transport == Transport::uds_abstract) &&
        !tofu::testing::uds_supported()) {
        return "this system cannot make Unix domain sockets (AF_UNIX; Wine has none)";
    }
    return std::nullopt;
}

Transport uds_or_tcp4() {
    return transport_unavailable(Transport::uds_path) ? Transport::tcp4 : Transport::uds_path;
}

std::string temp_socket_path() {
    std::string path = tofu::testing::temp_uds_path("tofu-net");
    temp_paths().add(path);
    return path;
}

Address server_address(Transport transport) {
    switch (transport) {
        case Transport::tcp4: return TcpServerAddress{"127.0.0.1", 0};
        case Transport::tcp6: return TcpServerAddress{"::1", 0};
        case Transport::uds_path: return UdsServerAddress{temp_socket_path()};
        case Transport::uds_abstract: return UdsServerAddress{tofu::testing::temp_abstract_name("tofu-net")};
        case Transport::tls4: return TlsServerAddress{"127.0.0.1", 0};
    }
    throw TestFailure{"unknown transport"};
}

Address server_address_from(std::string_view listen_on) {
    const ParsedAddress parsed = parse_address(listen_on, AddressRole::server);
    if (!parsed) {
        throw TestFailure{"~listen_on '" + std::string{listen_on} +
                          "' does not parse as a server address: " + std::string{parsed.reason}};
    }
    return parsed.address;
}

Address client_address(std::string_view listen_on) {
    const Address server = server_address_from(listen_on);
    if (const auto* tcp = std::get_if<TcpServerAddress>(&server)) {
        if (tcp->port == 0) {
            throw TestFailure{"~listen_on '" + std::string{listen_on} +
                              "' still names port 0, not the bound port"};
        }
        std::string host = tcp->ip;
        if (host == "0.0.0.0") {
            host = "127.0.0.1";
        } else if (host == "::") {
            host = "::1";
        }
        return TcpClientAddress{host, tcp->port};
    }
    if (const auto* tls = std::get_if<TlsServerAddress>(&server)) {
        if (tls->port == 0) {
            throw TestFailure{"~listen_on '" + std::string{listen_on} +
                              "' still names port 0, not the bound port"};
        }
        return TlsClientAddress{tls->ip == "0.0.0.0" ? "127.0.0.1"
                                : tls->ip == "::"    ? "::1"
                                                     : tls->ip,
                                tls->port};
    }
    if (const auto* uds = std::get_if<UdsServerAddress>(&server)) {
        return UdsClientAddress{uds->path};
    }
    throw TestFailure{"~listen_on '" + std::string{listen_on} + "' parsed as a client address"};
}

// --- messages ------------------------------------------------------------------------------------

std::string describe(const Message& msg) {
    std::ostringstream os;
    os << op_code_name(msg.bhdr.proto.op_code) << " ch=" << msg.bhdr.channel_number
       << " id=" << msg.bhdr.message_id << " origin=" << (msg.is_from_engine() ? "engine" : "app")
       << " status=" << status_name(msg.bhdr.status);
    if (msg.has_more()) {
        os << " more";
    }
    if (const auto reason = msg.thdrs.find(header::reason)) {
        os << " reason=" << *reason;
    }
    if (const auto detail = msg.thdrs.find(header::detail)) {
        os << " detail='" << *detail << "'";
    }
    os << " headers=" << msg.thdrs.size() << "B body=" << msg.body.size() << "B";
    return os.str();
}

std::string reason_of(const Message& msg) {
    const auto reason = msg.thdrs.find(header::reason);
    return reason ? std::string{*reason} : std::string{};
}

std::string header_value(const Message& msg, std::string_view name) {
    const auto value = msg.thdrs.find(name);
    return value ? std::string{*value} : std::string{"<missing>"};
}

bool is_engine_signal(const Message& msg, AmpeStatus status, std::uint16_t channel) {
    return msg.is_from_engine() && msg.bhdr.proto.op_code == OpCode::signal && msg.bhdr.status == status &&
           msg.bhdr.channel_number == channel;
}

bool is_channel_closed(const Message& msg, std::uint16_t channel) {
    return is_engine_signal(msg, AmpeStatus::channel_closed, channel);
}

bool is_any_channel_closed(const Message& msg) {
    return msg.is_from_engine() && msg.bhdr.proto.op_code == OpCode::signal &&
           msg.bhdr.status == AmpeStatus::channel_closed;
}

MessagePtr make_message(Ampe& ampe, OpCode op, std::uint16_t channel, std::uint64_t message_id,
                        std::string_view body) {
    MessagePtr msg = ampe.get(AllocationStrategy::always);
    if (!msg) {
        throw TestFailure{"Ampe::get(always) returned null"};
    }
    msg->bhdr.proto.op_code = op;
    msg->bhdr.channel_number = channel;
    msg->bhdr.message_id = message_id;
    if (!body.empty()) {
        msg->body.copy(body);
    }
    return msg;
}

namespace {

/// xorshift64: cheap, deterministic, no period problem at these sizes.
class PatternStream {
public:
    explicit PatternStream(std::uint64_t seed) noexcept : x_{seed * 0x9E3779B97F4A7C15ULL + 1} {}
    std::byte next() noexcept {
        x_ ^= x_ << 13U;
        x_ ^= x_ >> 7U;
        x_ ^= x_ << 17U;
        return static_cast<std::byte>(x_ >> 24U);
    }

private:
    std::uint64_t x_;
};

}  // namespace

std::vector<std::byte> pattern_bytes(std::size_t n, std::uint64_t seed) {
    std::vector<std::byte> out(n);
    PatternStream stream{seed};
    for (auto& b : out) {
        b = stream.next();
    }
    return out;
}

bool matches_pattern(std::span<const std::byte> bytes, std::size_t size, std::uint64_t seed) {
    if (bytes.size() != size) {
        return false;
    }
    PatternStream stream{seed};
    return std::all_of(bytes.begin(), bytes.end(), [&](std::byte b) { return b == stream.next(); });
}

std::size_t soak_factor() {
    const char* text =
        std::getenv("TOFU_SOAK");  // NOLINT(concurrency-mt-unsafe): read before threads use the environment
    if (text == nullptr) {
        return 1;
    }
    const std::size_t factor = std::strtoul(text, nullptr, 10);
    return std::clamp<std::size_t>(factor, 1, 100);
}

std::span<const std::byte> bytes_of(std::string_view text) noexcept {
    return std::as_bytes(std::span{text.data(), text.size()});
}

void make_answer(Message& msg) {
    msg.bhdr.proto.op_code = echo(msg.bhdr.proto.op_code);
    msg.bhdr.proto.more = false;
    msg.thdrs.reset();
    msg.body.reset();
}

// --- receiving -----------------------------------------------------------------------------------

MessagePtr receive(ChannelGroup& group, std::chrono::nanoseconds timeout) {
    MessagePtr msg = group.wait_receive(timeout);
    if (!msg) {
        throw TestFailure{"wait_receive: nothing arrived within " +
                          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
                          " s"};
    }
    return msg;
}

MessagePtr wait_for(ChannelGroup& group, const MessagePredicate& matches, std::string_view what,
                    std::vector<MessagePtr>* skipped, std::chrono::nanoseconds timeout) {
    constexpr std::size_t remembered = 12;
    const auto deadline = Clock::now() + timeout;
    std::deque<std::string> last_skipped;
    std::size_t skipped_count = 0;
    for (auto now = Clock::now(); now < deadline; now = Clock::now()) {
        MessagePtr msg = group.wait_receive(deadline - now);
        if (!msg) {
            continue;  // the deadline passed (checked by the loop)
        }
        if (matches(*msg)) {
            return msg;
        }
        ++skipped_count;
        last_skipped.push_back(describe(*msg));
        if (last_skipped.size() > remembered) {
            last_skipped.pop_front();
        }
        if (skipped != nullptr) {
            skipped->push_back(std::move(msg));
        }
    }
    std::string text = "timed out after " +
                       std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
                       " s waiting for " + std::string{what} + "; " + std::to_string(skipped_count) +
                       " other message(s) arrived meanwhile";
    if (!last_skipped.empty()) {
        text += ", the last ones:";
        for (const auto& line : last_skipped) {
            text += "\n  " + line;
        }
    }
    throw TestFailure{text};
}

MessagePtr wait_for_op(ChannelGroup& group, OpCode op, std::uint16_t channel,
                       std::vector<MessagePtr>* skipped) {
    return wait_for(
        group,
        [&](const Message& m) { return m.bhdr.proto.op_code == op && m.bhdr.channel_number == channel; },
        std::string{op_code_name(op)} + " on channel " + std::to_string(channel), skipped);
}

MessagePtr wait_channel_closed(ChannelGroup& group, std::uint16_t channel, std::vector<MessagePtr>* skipped) {
    return wait_for(
        group, [&](const Message& m) { return is_channel_closed(m, channel); },
        "channel_closed on channel " + std::to_string(channel), skipped);
}

std::size_t count_channel_closed(const std::vector<MessagePtr>& messages, std::uint16_t channel) {
    return static_cast<std::size_t>(std::count_if(messages.begin(), messages.end(), [&](const MessagePtr& m) {
        return m && is_channel_closed(*m, channel);
    }));
}

std::vector<MessagePtr> drain(ChannelGroup& group) {
    group.update_receiver();
    std::vector<MessagePtr> out;
    MessagePtr sentinel = wait_for(
        group,
        [](const Message& m) {
            return m.is_from_engine() && m.bhdr.proto.op_code == OpCode::signal &&
                   m.bhdr.status == AmpeStatus::receiver_update;
        },
        "the receiver_update sentinel", &out);
    return out;
}

std::vector<MessagePtr> until_posted_processed(Ampe& ampe, ChannelGroup& group) {
    MessagePtr barrier = ampe.get(AllocationStrategy::always);
    format(*barrier, UdsClientAddress{temp_socket_path()});  // nobody listens there
    const std::uint16_t channel = group.post(barrier).channel_number;
    std::vector<MessagePtr> before;
    (void)wait_channel_closed(group, channel, &before);
    std::erase_if(before, [&](const MessagePtr& m) { return m->bhdr.channel_number == channel; });
    return before;
}

// --- handshakes ----------------------------------------------------------------------------------

Listener start_listener(Ampe& ampe, ChannelGroup& group, const Address& address) {
    MessagePtr welcome = ampe.get(AllocationStrategy::always);
    format(*welcome, address);
#if defined(TOFU_TEST_TLS)
    if (std::holds_alternative<TlsServerAddress>(address)) {
        welcome->thdrs.append(header::tls_cert, test_pki().server.cert);
        welcome->thdrs.append(header::tls_key, test_pki().server.key);
    }
#endif
    const BinaryHeader posted = group.post(welcome);
    if (posted.channel_number == unassigned_channel) {
        throw TestFailure{"post(WelcomeRequest) assigned no channel number"};
    }
    MessagePtr response = wait_for(
        group,
        [&](const Message& m) {
            return m.bhdr.channel_number == posted.channel_number &&
                   (m.bhdr.proto.op_code == OpCode::welcome_response || is_any_channel_closed(m));
        },
        "WelcomeResponse for " + to_string(address));
    if (response->bhdr.proto.op_code != OpCode::welcome_response ||
        response->bhdr.status != AmpeStatus::success || !response->is_from_engine()) {
        throw TestFailure{"listening on " + to_string(address) + " failed: " + describe(*response)};
    }
    const auto listen_on = response->thdrs.find(header::listen_on);
    if (!listen_on) {
        throw TestFailure{"WelcomeResponse without ~listen_on: " + describe(*response)};
    }
    Listener out;
    out.channel = posted.channel_number;
    out.listen_on = std::string{*listen_on};
    out.client_address = client_address(out.listen_on);
    return out;
}

Listener start_listener(Ampe& ampe, ChannelGroup& group, Transport transport) {
    return start_listener(ampe, group, server_address(transport));
}

MessagePtr hello_message(Ampe& ampe, const Address& to) {
    MessagePtr hello = ampe.get(AllocationStrategy::always);
    format(*hello, to);
#if defined(TOFU_TEST_TLS)
    if (std::holds_alternative<TlsClientAddress>(to)) {
        hello->thdrs.append(header::tls_ca, test_pki().ca);
    }
#endif
    return hello;
}

MessagePtr wait_hello_response(ChannelGroup& group, std::uint16_t channel, std::vector<MessagePtr>* skipped) {
    MessagePtr answer = wait_for(
        group,
        [&](const Message& m) {
            return m.bhdr.channel_number == channel &&
                   (m.bhdr.proto.op_code == OpCode::hello_response ||
                    m.bhdr.proto.op_code == OpCode::hello_request || is_any_channel_closed(m));
        },
        "HelloResponse on channel " + std::to_string(channel), skipped);
    if (answer->bhdr.proto.op_code != OpCode::hello_response || answer->is_from_engine() ||
        answer->bhdr.status != AmpeStatus::success) {
        throw TestFailure{"connecting failed: " + describe(*answer)};
    }
    return answer;
}

std::uint16_t connect_client(Ampe& ampe, ChannelGroup& group, const Address& to) {
    MessagePtr hello = hello_message(ampe, to);
    const BinaryHeader posted = group.post(hello);
    MessagePtr answer = wait_hello_response(group, posted.channel_number);
    if (answer->bhdr.message_id != posted.message_id) {
        throw TestFailure{"HelloResponse id " + std::to_string(answer->bhdr.message_id) +
                          " != HelloRequest id " + std::to_string(posted.message_id)};
    }
    return posted.channel_number;
}

MessagePtr wait_hello_request(ChannelGroup& server_group, std::vector<MessagePtr>* skipped) {
    return wait_for(
        server_group,
        [](const Message& m) { return m.bhdr.proto.op_code == OpCode::hello_request && !m.is_from_engine(); },
        "a peer's HelloRequest", skipped);
}

std::uint16_t accept_hello(ChannelGroup& server_group, MessagePtr hello) {
    const std::uint16_t channel = hello->bhdr.channel_number;
    make_answer(*hello);
    (void)server_group.post(hello);
    return channel;
}

std::uint16_t accept_client(ChannelGroup& server_group, std::vector<MessagePtr>* skipped) {
    return accept_hello(server_group, wait_hello_request(server_group, skipped));
}

Connection establish(Ampe& client_ampe, ChannelGroup& client_group, ChannelGroup& server_group,
                     const Address& to) {
    MessagePtr hello = hello_message(client_ampe, to);
    const BinaryHeader posted = client_group.post(hello);
    MessagePtr request = wait_hello_request(server_group);
    if (request->bhdr.message_id != posted.message_id) {
        throw TestFailure{"the server got HelloRequest id " + std::to_string(request->bhdr.message_id) +
                          ", the client posted id " + std::to_string(posted.message_id)};
    }
    Connection out;
    out.client = posted.channel_number;
    out.server = accept_hello(server_group, std::move(request));
    MessagePtr answer = wait_hello_response(client_group, out.client);
    if (answer->bhdr.message_id != posted.message_id) {
        throw TestFailure{"HelloResponse id " + std::to_string(answer->bhdr.message_id) +
                          " != HelloRequest id " + std::to_string(posted.message_id)};
    }
    return out;
}

void close_gracefully(Ampe& initiator_ampe, ChannelGroup& initiator, std::uint16_t initiator_channel,
                      ChannelGroup& responder, std::uint16_t responder_channel) {
    MessagePtr bye = make_message(initiator_ampe, OpCode::bye_request, initiator_channel);
    const BinaryHeader posted = initiator.post(bye);

    MessagePtr request = wait_for(
        responder,
        [&](const Message& m) {
            return m.bhdr.channel_number == responder_channel &&
                   (m.bhdr.proto.op_code == OpCode::bye_request || is_any_channel_closed(m));
        },
        "ByeRequest on the responder's channel " + std::to_string(responder_channel));
    if (request->bhdr.proto.op_code != OpCode::bye_request || request->bhdr.message_id != posted.message_id) {
        throw TestFailure{"responder: expected ByeRequest id " + std::to_string(posted.message_id) +
                          ", got " + describe(*request)};
    }
    make_answer(*request);
    (void)responder.post(request);

    MessagePtr responder_closed = wait_channel_closed(responder, responder_channel);
    if (reason_of(*responder_closed) != status_name(AmpeStatus::success)) {
        throw TestFailure{"responder's channel_closed reason is not success: " + describe(*responder_closed)};
    }

    MessagePtr response = wait_for(
        initiator,
        [&](const Message& m) {
            return m.bhdr.channel_number == initiator_channel &&
                   (m.bhdr.proto.op_code == OpCode::bye_response || is_any_channel_closed(m));
        },
        "ByeResponse on the initiator's channel " + std::to_string(initiator_channel));
    if (response->bhdr.proto.op_code != OpCode::bye_response || response->is_from_engine() ||
        response->bhdr.message_id != posted.message_id) {
        throw TestFailure{"initiator: expected ByeResponse id " + std::to_string(posted.message_id) +
                          " before channel_closed, got " + describe(*response)};
    }
    MessagePtr initiator_closed = wait_channel_closed(initiator, initiator_channel);
    if (reason_of(*initiator_closed) != status_name(AmpeStatus::success)) {
        throw TestFailure{"initiator's channel_closed reason is not success: " + describe(*initiator_closed)};
    }
}

void close_and_wait(Ampe& ampe, ChannelGroup& group, std::uint16_t channel) {
    MessagePtr bye = make_message(ampe, OpCode::bye_request, channel);
    const BinaryHeader posted = group.post(bye);
    MessagePtr response = wait_for(
        group,
        [&](const Message& m) {
            return m.bhdr.channel_number == channel &&
                   (m.bhdr.proto.op_code == OpCode::bye_response || is_any_channel_closed(m));
        },
        "ByeResponse on channel " + std::to_string(channel));
    if (response->bhdr.proto.op_code != OpCode::bye_response ||
        response->bhdr.message_id != posted.message_id) {
        throw TestFailure{"expected ByeResponse id " + std::to_string(posted.message_id) + ", got " +
                          describe(*response)};
    }
    MessagePtr closed = wait_channel_closed(group, channel);
    if (reason_of(*closed) != status_name(AmpeStatus::success)) {
        throw TestFailure{"channel_closed reason is not success: " + describe(*closed)};
    }
}

void round_trip(Ampe& client_ampe, ChannelGroup& client_group, ChannelGroup& server_group,
                const Connection& connection, std::string_view tag) {
    const std::string question = "question " + std::string{tag};
    const std::string answer_text = "answer " + std::string{tag};
    MessagePtr request = make_message(client_ampe, OpCode::request, connection.client, 0, question);
    const BinaryHeader posted = client_group.post(request);

    MessagePtr got = wait_for_op(server_group, OpCode::request, connection.server);
    if (got->bhdr.message_id != posted.message_id || got->body.text() != question) {
        throw TestFailure{"server got the wrong request (" + std::string{tag} + "): " + describe(*got)};
    }
    make_answer(*got);
    got->body.copy(answer_text);
    (void)server_group.post(got);

    MessagePtr response = wait_for_op(client_group, OpCode::response, connection.client);
    if (response->bhdr.message_id != posted.message_id || response->body.text() != answer_text) {
        throw TestFailure{"client got the wrong response (" + std::string{tag} + "): " + describe(*response)};
    }
}

namespace {

/// Posts an answer on a channel that the peer may have closed meanwhile (then the post is refused
/// with `invalid_channel_number`, or with `not_allowed` after a ByeRequest, which is fine here).
bool post_answer(ChannelGroup& group, MessagePtr& msg) {
    try {
        (void)group.post(msg);
        return true;
    } catch (const Error& e) {
        if (e.status() == AmpeStatus::invalid_channel_number || e.status() == AmpeStatus::not_allowed) {
            return false;
        }
        throw;
    }
}

}  // namespace

EchoStats serve_echo(ChannelGroup& group, std::size_t closes, std::chrono::nanoseconds timeout,
                     const std::atomic<bool>* stop) {
    EchoStats stats;
    const auto deadline = Clock::now() + timeout;
    while (stats.closed < closes) {
        const auto now = Clock::now();
        if (now >= deadline) {
            throw TestFailure{"echo server: timed out with " + std::to_string(stats.closed) + " of " +
                              std::to_string(closes) + " channels closed"};
        }
        MessagePtr msg = group.wait_receive(deadline - now);
        if (!msg) {
            continue;
        }
        const OpCode op = msg->bhdr.proto.op_code;
        if (msg->is_from_engine()) {
            if (msg->bhdr.status == AmpeStatus::receiver_update && stop != nullptr && stop->load()) {
                return stats;
            }
            if (is_any_channel_closed(*msg)) {
                ++stats.closed;
                if (reason_of(*msg) != status_name(AmpeStatus::success)) {
                    ++stats.closed_not_success;
                }
            }
            // pool_empty, and answers that came back because their channel closed: nothing to do.
            continue;
        }
        switch (op) {
            case OpCode::hello_request:
                make_answer(*msg);
                stats.accepted += post_answer(group, msg) ? 1U : 0U;
                break;
            case OpCode::request:
                msg->bhdr.proto.op_code = OpCode::response;
                stats.echoed += post_answer(group, msg) ? 1U : 0U;
                break;
            case OpCode::bye_request:
                make_answer(*msg);
                (void)post_answer(group, msg);
                break;
            case OpCode::signal:
            case OpCode::response: break;
            default: throw TestFailure{"echo server: unexpected " + describe(*msg)};
        }
    }
    return stats;
}

// --- threads -------------------------------------------------------------------------------------

void run_concurrently(std::size_t threads, const std::function<void(std::size_t)>& body) {
    std::vector<std::string> failures(threads);
    std::vector<std::thread> running;
    running.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) {
        running.emplace_back([&body, &failures, i] {
            try {
                body(i);
            } catch (const std::exception& e) {
                failures[i] = e.what();
            } catch (...) {
                failures[i] = "an exception that is not a std::exception";
            }
        });
    }
    for (auto& t : running) {
        t.join();
    }
    for (std::size_t i = 0; i < threads; ++i) {
        if (!failures[i].empty()) {
            ADD_FAILURE() << "thread " << i << ": " << failures[i];
        }
    }
}

// --- raw socket peer -----------------------------------------------------------------------------

std::string_view RawFrame::body_text() const noexcept {
    return {reinterpret_cast<const char*>(body.data()), body.size()};
}

std::string_view RawFrame::text_headers_text() const noexcept {
    return {reinterpret_cast<const char*>(text_headers.data()), text_headers.size()};
}

std::vector<std::byte> encode_frame(BinaryHeader bhdr, std::string_view text_headers,
                                    std::span<const std::byte> body) {
    bhdr.text_headers_len = static_cast<std::uint16_t>(text_headers.size());
    bhdr.body_len = static_cast<std::uint16_t>(body.size());
    std::array<std::byte, BinaryHeader::wire_size> head{};
    bhdr.encode(head);
    const auto headers = bytes_of(text_headers);
    // One allocation, then appends (also sidesteps a false -Warray-bounds of GCC 12 at -O3).
    std::vector<std::byte> out;
    out.reserve(head.size() + headers.size() + body.size());
    out.insert(out.end(), head.begin(), head.end());
    out.insert(out.end(), headers.begin(), headers.end());
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

std::vector<std::byte> hello_frame(std::uint16_t channel, std::uint64_t message_id,
                                   std::string_view extra_headers, std::string_view body) {
    BinaryHeader bhdr;
    bhdr.channel_number = channel;
    bhdr.proto.op_code = OpCode::hello_request;
    bhdr.message_id = message_id;
    // The client side's own idea of where it connected; the server does not act on it.
    const std::string headers =
        std::string{header::connect_to} + ":tcp|127.0.0.1|1\r\n" + std::string{extra_headers};
    return encode_frame(bhdr, headers, bytes_of(body));
}

std::optional<RawFrame> read_past_confirmations(RawPeer& peer) {
    std::optional<RawFrame> f = peer.read_frame();
    while (f && f->header.proto.op_code == detail::confirmation_op) {
        f = peer.read_frame();
    }
    return f;
}

std::vector<std::byte> confirmation_frame(std::uint64_t count) {
    BinaryHeader bhdr;
    bhdr.proto.op_code = detail::confirmation_op;
    bhdr.message_id = count;
    return encode_frame(bhdr, {}, {});
}

RawPeer::RawPeer(const Address& to, std::chrono::milliseconds io_timeout) : fd_{connect_raw(to, io_timeout)} {
#if defined(TOFU_TEST_TLS)
    if (std::holds_alternative<TlsClientAddress>(to)) {
        std::string error;
        tls_ = raw_tls::connect(fd_, error);
        if (tls_ == nullptr) {
            native::close_socket(std::exchange(fd_, -1));
            throw TestFailure{error};
        }
    }
#endif
}

RawPeer::RawPeer(int connected_fd, std::chrono::milliseconds io_timeout) : fd_{connected_fd} {
    set_timeouts(fd_, io_timeout);
}

RawPeer::~RawPeer() {
#if defined(TOFU_TEST_TLS)
    if (tls_ != nullptr) {
        raw_tls::close(tls_);
    }
#endif
    if (fd_ >= 0) {
        native::close_socket(fd_);
    }
}

long RawPeer::send_some(const std::byte* data, std::size_t size) {
#if defined(TOFU_TEST_TLS)
    if (tls_ != nullptr) {
        return raw_tls::send(tls_, data, size);
    }
#endif
    return native::send_bytes(fd_, data, size);
}

long RawPeer::recv_some(std::byte* data, std::size_t size) {
#if defined(TOFU_TEST_TLS)
    if (tls_ != nullptr) {
        return raw_tls::recv(tls_, data, size);
    }
#endif
    return native::recv_bytes(fd_, data, size);
}

bool RawPeer::send(std::span<const std::byte> bytes) {
    while (!bytes.empty()) {
        const long n = send_some(bytes.data(), bytes.size());
        if (n < 0) {
            const int error = native::last_error();
            if (error == native::err::interrupted) {
                continue;
            }
            if (is_closed_error(error)) {
                return false;
            }
            throw TestFailure{"raw peer: send: " + errno_text(error)};
        }
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

bool RawPeer::send_byte_by_byte(std::span<const std::byte> bytes) {
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (!send(bytes.subspan(i, 1))) {
            return false;
        }
    }
    return true;
}

std::size_t RawPeer::send_until_blocked(std::span<const std::byte> frame, std::size_t max_bytes) {
    std::size_t sent = 0;
    std::size_t offset = 0;  // into `frame`: a send may stop inside it
    while (sent < max_bytes) {
        const long n = send_some(frame.data() + offset, frame.size() - offset);
        if (n < 0) {
            const int error = native::last_error();
            if (error == native::err::interrupted) {
                continue;
            }
            if (is_timeout_error(error) || is_closed_error(error)) {
                return sent;  // blocked past the timeout, or gone
            }
            throw TestFailure{"raw peer: send: " + errno_text(error)};
        }
        sent += static_cast<std::size_t>(n);
        offset = (offset + static_cast<std::size_t>(n)) % frame.size();
    }
    return sent;
}

void RawPeer::shutdown_write() {
    (void)::shutdown(native::handle(fd_), native::shut_write);
}

void RawPeer::reset() {
    const linger abortive{1, 0};
    (void)native::set_option(fd_, SOL_SOCKET, SO_LINGER, abortive);
    native::close_socket(std::exchange(fd_, -1));
}

RawListener::RawListener() {
    native::start_sockets();
    fd_ = open_socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    native::socklen len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), len) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        throw TestFailure{"raw listener: cannot listen on TCP loopback: " + errno_text(native::last_error())};
    }
    client_address_ = TcpClientAddress{"127.0.0.1", ntohs(addr.sin_port)};
}

RawListener::~RawListener() {
    if (fd_ >= 0) {
        native::close_socket(fd_);
    }
}

std::unique_ptr<RawPeer> RawListener::accept(std::chrono::milliseconds io_timeout) {
    fd_set ready;
    FD_ZERO(&ready);
    FD_SET(native::handle(fd_), &ready);
    timeval wait{static_cast<decltype(timeval::tv_sec)>(std::chrono::seconds{event_timeout}.count()), 0};
    if (::select(fd_ + 1, &ready, nullptr, nullptr, &wait) != 1) {
        throw TestFailure{"raw listener: no connection within the timeout"};
    }
    const auto fd = static_cast<int>(::accept(native::handle(fd_), nullptr, nullptr));
    if (fd < 0) {
        throw TestFailure{"raw listener: accept: " + errno_text(native::last_error())};
    }
    const int one = 1;
    (void)native::set_option(fd, IPPROTO_TCP, TCP_NODELAY, one);
    return std::make_unique<RawPeer>(fd, io_timeout);
}

RawPeer::ReadResult RawPeer::read_exact(std::span<std::byte> out) {
    while (!out.empty()) {
        const long n = recv_some(out.data(), out.size());
        if (n == 0) {
            return ReadResult::closed;
        }
        if (n < 0) {
            const int error = native::last_error();
            if (error == native::err::interrupted) {
                continue;
            }
            if (is_closed_error(error)) {
                return ReadResult::closed;
            }
            if (is_timeout_error(error)) {
                throw TestFailure{"raw peer: nothing to read within the timeout"};
            }
            throw TestFailure{"raw peer: recv: " + errno_text(error)};
        }
        out = out.subspan(static_cast<std::size_t>(n));
    }
    return ReadResult::ok;
}

std::optional<RawFrame> RawPeer::read_frame() {
    std::array<std::byte, BinaryHeader::wire_size> head{};
    if (read_exact(head) == ReadResult::closed) {
        return std::nullopt;
    }
    RawFrame frame;
    frame.header = BinaryHeader::decode(head);
    frame.text_headers.resize(frame.header.text_headers_len);
    frame.body.resize(frame.header.body_len);
    if (read_exact(frame.text_headers) == ReadResult::closed ||
        read_exact(frame.body) == ReadResult::closed) {
        throw TestFailure{"raw peer: the connection ended inside a frame"};
    }
    return frame;
}

std::size_t RawPeer::wait_closed() {
    constexpr std::size_t max_discarded = std::size_t{64} << 20U;
    std::array<std::byte, 4096> buffer{};
    std::size_t discarded = 0;
    while (discarded <= max_discarded) {
        const long n = recv_some(buffer.data(), buffer.size());
        if (n == 0) {
            return discarded;
        }
        if (n < 0) {
            const int error = native::last_error();
            if (error == native::err::interrupted) {
                continue;
            }
            if (is_closed_error(error)) {
                return discarded;
            }
            if (is_timeout_error(error)) {
                throw TestFailure{"raw peer: the connection was not closed within the timeout"};
            }
            throw TestFailure{"raw peer: recv: " + errno_text(error)};
        }
        discarded += static_cast<std::size_t>(n);
    }
    throw TestFailure{"raw peer: more than 64 MiB arrived while waiting for the connection to close"};
}

// --- leak checks ---------------------------------------------------------------------------------

std::size_t descriptor_baseline() {
    (void)Reactor::create(Options{});
    return open_descriptor_count();
}

bool descriptors_back_to(std::size_t baseline) {
    return eventually([baseline] { return open_descriptor_count() <= baseline; });
}

MemoryUse memory_use() {
    return {resident_bytes(), heap_bytes_in_use()};
}

void expect_memory_growth_within(const MemoryUse& before, std::size_t bound, std::string_view over) {
    const MemoryUse after = memory_use();
    const auto kib_grown = [](std::size_t from, std::size_t to) {
        return static_cast<int>((to - std::min(to, from)) / 1024);
    };
    ::testing::Test::RecordProperty("heap_growth_kib", kib_grown(before.heap, after.heap));
    ::testing::Test::RecordProperty("rss_growth_kib", kib_grown(before.resident, after.resident));
    EXPECT_LE(after.heap, before.heap + bound)
        << "the heap grew by " << kib_grown(before.heap, after.heap) << " KiB over " << over;
    if (!sanitizer_allocator()) {  // a sanitizer's quarantine makes RSS follow bytes freed
        EXPECT_LE(after.resident, before.resident + bound)
            << "RSS grew by " << kib_grown(before.resident, after.resident) << " KiB over " << over;
    }
}

std::chrono::duration<double> cpu_time_while_idle(std::chrono::milliseconds window) {
    const auto before = process_cpu_time();
    std::this_thread::sleep_for(window);
    return process_cpu_time() - before;
}

void expect_idle_second() {
    const auto cpu = cpu_time_while_idle(std::chrono::milliseconds{1000});
    EXPECT_LT(cpu.count(), idle_cpu_budget)
        << "the engines used " << cpu.count() << " s of CPU in an idle second";
}

bool eventually(const std::function<bool()>& condition, std::chrono::nanoseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!condition()) {
        if (Clock::now() >= deadline) {
            return condition();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{2});
    }
    return true;
}

}  // namespace tofu::test

// The tls transport: exchanges, identity headers, mutual TLS, and every failure with its status
// and words (docs/security.md). Certificates are made at test time (support/tls_pki.hpp). On a
// build without TLS (mingw) a tls address is refused with `not_implemented_yet`.
#include <array>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <tofu/tofu.hpp>

#include "support/engine_helpers.hpp"
#if defined(TOFU_TEST_TLS)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <thread>

#include "net/tls_identity.hpp"
#include "support/raw_tls.hpp"
#include "support/tls_pki.hpp"
#endif

namespace tofu::test {
namespace {

#if !defined(TOFU_TEST_TLS)

TEST(TlsAbsent, ATlsAddressIsNotImplementedYet) {
    auto ampe = Reactor::create(Options{});
    auto group = ampe->create();
    MessagePtr welcome = ampe->get(AllocationStrategy::always);
    TlsServerAddress{"127.0.0.1", 0}.format(*welcome);
    const std::uint16_t channel = group->post(welcome).channel_number;
    MessagePtr back = wait_for_op(*group, OpCode::welcome_response, channel);
    EXPECT_EQ(back->bhdr.status, AmpeStatus::not_implemented_yet) << describe(*back);
    EXPECT_NE(header_value(*back, header::detail).find("TLS"), std::string::npos);
}

#else

std::vector<std::string> all_values(const Message& msg, std::string_view name) {
    std::vector<std::string> out;
    for (const auto& [n, v] : msg.thdrs) {
        if (n == name) {
            out.emplace_back(v);
        }
    }
    return out;
}

/// A handshake record whose ClientHello is cut short: the listener answers with an alert.
std::span<const std::byte> broken_client_hello() {
    static constexpr std::array<std::byte, 10> bytes{
        std::byte{0x16}, std::byte{0x03}, std::byte{0x01}, std::byte{0x00}, std::byte{0x05},
        std::byte{0x01}, std::byte{0x00}, std::byte{0x00}, std::byte{0x01}, std::byte{0x03}};
    return bytes;
}

class Tls : public ::testing::Test {
protected:
    std::unique_ptr<Ampe> server_ampe_ = Reactor::create(Options{});
    std::unique_ptr<Ampe> client_ampe_ = Reactor::create(Options{});
    std::unique_ptr<ChannelGroup> server_ = server_ampe_->create();
    std::unique_ptr<ChannelGroup> client_ = client_ampe_->create();

    /// A tls listener on 127.0.0.1 serving `cert`, and requiring client certificates of the test CA
    /// when `mutual`.
    Listener listen(const CertFiles& cert, bool mutual = false) {
        MessagePtr welcome = server_ampe_->get(AllocationStrategy::always);
        TlsServerAddress{"127.0.0.1", 0}.format(*welcome);
        welcome->thdrs.append(header::tls_cert, cert.cert);
        welcome->thdrs.append(header::tls_key, cert.key);
        if (mutual) {
            welcome->thdrs.append(header::tls_ca, test_pki().ca);
        }
        const std::uint16_t channel = server_->post(welcome).channel_number;
        MessagePtr ready = wait_for_op(*server_, OpCode::welcome_response, channel);
        if (ready->bhdr.status != AmpeStatus::success) {
            throw TestFailure{"the tls listener did not start: " + describe(*ready)};
        }
        return Listener{channel, std::string{*ready->thdrs.find(header::listen_on)},
                        client_address(*ready->thdrs.find(header::listen_on))};
    }

    /// Posts a HelloRequest to `to` trusting the test CA, with `extra` headers.
    std::uint16_t connect(const Address& to,
                          const std::vector<std::pair<std::string, std::string> >& extra = {}) {
        MessagePtr hello = hello_message(*client_ampe_, to);
        for (const auto& [n, v] : extra) {
            hello->thdrs.append(n, v);
        }
        return client_->post(hello).channel_number;
    }

    /// The HelloRequest of a connect that must fail comes back: its status and `~detail`.
    MessagePtr failed_hello(std::uint16_t channel) {
        MessagePtr back = wait_for_op(*client_, OpCode::hello_request, channel);
        EXPECT_TRUE(back->is_from_engine()) << describe(*back);
        (void)wait_channel_closed(*client_, channel);
        return back;
    }
};

TEST_F(Tls, ExchangesAndTellsEachSideWhoThePeerIs) {
    const Listener listener = listen(test_pki().server);
    const std::uint16_t client = connect(listener.client_address);
    MessagePtr hello = wait_hello_request(*server_);
    EXPECT_EQ(header_value(*hello, header::listener), std::to_string(listener.channel));
    EXPECT_EQ(header_value(*hello, header::peer_subject), "<missing>")
        << "no client certificate was asked for";
    EXPECT_EQ(header_value(*hello, header::tls), "TLSv1.3 TLS_AES_128_GCM_SHA256")
        << "two tofu ends agree TLS 1.3 and the suite they both put first";
    EXPECT_EQ(header_value(*hello, header::tls_ktls), "off");
    const std::uint16_t server = accept_hello(*server_, std::move(hello));
    MessagePtr response = wait_hello_response(*client_, client);
    EXPECT_EQ(header_value(*response, header::peer_subject), "CN=tofu test server,O=tofu tests");
    EXPECT_EQ(all_values(*response, header::peer_san),
              (std::vector<std::string>{"DNS:localhost", "IP:127.0.0.1", "IP:::1"}));
    round_trip(*client_ampe_, *client_, *server_, Connection{client, server}, "over tls");
    close_gracefully(*client_ampe_, *client_, client, *server_, server);
}

TEST_F(Tls, MutualTlsGivesTheListenerTheClientsNames) {
    const Listener listener = listen(test_pki().server, true);
    const std::uint16_t client =
        connect(listener.client_address, {{std::string{header::tls_cert}, test_pki().client.cert},
                                          {std::string{header::tls_key}, test_pki().client.key}});
    MessagePtr hello = wait_hello_request(*server_);
    EXPECT_EQ(header_value(*hello, header::peer_subject), "CN=tofu test client,O=tofu tests");
    EXPECT_EQ(all_values(*hello, header::peer_san),
              (std::vector<std::string>{"DNS:client.test", "email:client@test"}));
    const std::uint16_t server = accept_hello(*server_, std::move(hello));
    (void)wait_hello_response(*client_, client);
    round_trip(*client_ampe_, *client_, *server_, Connection{client, server}, "mutual");
}

TEST_F(Tls, AListenerWithACaRefusesAClientWithoutACertificate) {
    const Listener listener = listen(test_pki().server, true);
    const std::uint16_t client = connect(listener.client_address);
    MessagePtr back = failed_hello(client);
    EXPECT_EQ(back->bhdr.status, AmpeStatus::connect_failed) << describe(*back);
    EXPECT_NE(header_value(*back, header::detail).find("TLS"), std::string::npos) << describe(*back);
    MessagePtr report = wait_for(
        *server_,
        [&](const Message& m) { return is_engine_signal(m, AmpeStatus::accept_failed, listener.channel); },
        "the listener's report of a failed handshake");
    EXPECT_EQ(header_value(*report, header::failed_handshakes), "1");
    EXPECT_NE(header_value(*report, header::detail).find("certificate"), std::string::npos)
        << describe(*report);
}

struct BadServer {
    const char* name;
    CertFiles TlsPki::*cert;
    const char* words;  ///< what `~detail` must say
};

class TlsBadServer : public Tls, public ::testing::WithParamInterface<BadServer> {};

TEST_P(TlsBadServer, TheConnectFailsAndSaysWhy) {
    const Listener listener = listen(test_pki().*(GetParam().cert));
    const std::uint16_t client = connect(listener.client_address);
    MessagePtr back = failed_hello(client);
    EXPECT_EQ(back->bhdr.status, AmpeStatus::connect_failed) << describe(*back);
    EXPECT_NE(header_value(*back, header::detail).find(GetParam().words), std::string::npos)
        << header_value(*back, header::detail);
}

INSTANTIATE_TEST_SUITE_P(
    Certificates, TlsBadServer,
    ::testing::Values(BadServer{"untrusted", &TlsPki::untrusted, "unable to get local issuer certificate"},
                      BadServer{"expired", &TlsPki::expired, "certificate has expired"},
                      BadServer{"wrong_host", &TlsPki::wrong_host, "mismatch"}),
    [](const ::testing::TestParamInfo<BadServer>& param) { return std::string{param.param.name}; });

TEST_F(Tls, AHostNameIsCheckedAgainstTheCertificate) {
    const Listener listener = listen(test_pki().server);
    const auto port = std::get<TlsClientAddress>(listener.client_address).port;
    // "localhost" is one of the certificate's names; with another name asked for, it is not.
    const std::uint16_t good = connect(TlsClientAddress{"localhost", port});
    const std::uint16_t server = accept_client(*server_);
    (void)wait_hello_response(*client_, good);
    (void)server;
    const std::uint16_t bad =
        connect(TlsClientAddress{"127.0.0.1", port}, {{std::string{header::tls_server_name}, "other.test"}});
    MessagePtr back = failed_hello(bad);
    EXPECT_EQ(back->bhdr.status, AmpeStatus::connect_failed);
    EXPECT_NE(header_value(*back, header::detail).find("mismatch"), std::string::npos) << describe(*back);
}

TEST_F(Tls, ATlsClientOfAPlainListenerFails) {
    // The plain listener takes the ClientHello for the start of a frame and waits for the rest:
    // its handshake timeout ends the wait.
    server_.reset();
    server_ampe_ = Reactor::create(Options{.handshake_timeout = std::chrono::milliseconds{200}});
    server_ = server_ampe_->create();
    const Listener plain = start_listener(*server_ampe_, *server_, Transport::tcp4);
    const auto& tcp = std::get<TcpClientAddress>(plain.client_address);
    const std::uint16_t client = connect(TlsClientAddress{tcp.host, tcp.port});
    MessagePtr back = failed_hello(client);
    EXPECT_EQ(back->bhdr.status, AmpeStatus::connect_failed) << describe(*back);
    EXPECT_NE(header_value(*back, header::detail).find("TLS"), std::string::npos) << describe(*back);
}

TEST_F(Tls, APlainClientOfATlsListenerIsCountedNotDelivered) {
    const Listener listener = listen(test_pki().server);
    const auto& tls = std::get<TlsClientAddress>(listener.client_address);
    const std::uint16_t client = connect(TcpClientAddress{tls.host, tls.port});
    MessagePtr back = failed_hello(client);
    EXPECT_NE(back->bhdr.status, AmpeStatus::success) << describe(*back);
    MessagePtr report = wait_for(
        *server_,
        [&](const Message& m) { return is_engine_signal(m, AmpeStatus::accept_failed, listener.channel); },
        "the listener's report of a failed handshake");
    EXPECT_EQ(header_value(*report, header::failed_handshakes), "1") << describe(*report);
}

TEST_F(Tls, AListenerWithoutACertificateDoesNotStart) {
    MessagePtr welcome = server_ampe_->get(AllocationStrategy::always);
    TlsServerAddress{"127.0.0.1", 0}.format(*welcome);
    const std::uint16_t channel = server_->post(welcome).channel_number;
    MessagePtr back = wait_for_op(*server_, OpCode::welcome_response, channel);
    EXPECT_EQ(back->bhdr.status, AmpeStatus::listen_failed) << describe(*back);
    EXPECT_NE(header_value(*back, header::detail).find("certificate"), std::string::npos) << describe(*back);
}

TEST_F(Tls, KernelTlsAskedForStillExchangesAndSaysWhetherItIsOn) {
    // OpenSSL's own socket BIO makes the calls then; the kernel takes the records only where it
    // offers TLS (not on every kernel: `~tls_ktls` says).
    server_.reset();
    server_ampe_ = Reactor::create(Options{.tls = TlsOptions{.kernel_tls = true}});
    server_ = server_ampe_->create();
    const Listener listener = listen(test_pki().server);
    const std::uint16_t client = connect(listener.client_address);
    MessagePtr hello = wait_hello_request(*server_);
    const std::string ktls = header_value(*hello, header::tls_ktls);
    EXPECT_TRUE(ktls == "off" || ktls == "send" || ktls == "receive" || ktls == "send,receive") << ktls;
    const std::uint16_t server = accept_hello(*server_, std::move(hello));
    (void)wait_hello_response(*client_, client);
    for (int i = 0; i < 3; ++i) {
        round_trip(*client_ampe_, *client_, *server_, Connection{client, server},
                   "kernel tls " + std::to_string(i));
    }
    close_gracefully(*server_ampe_, *server_, server, *client_, client);
}

TEST_F(Tls, FailedHandshakesAreCountedAndReportedTogether) {
    const Listener listener = listen(test_pki().server);
    const auto& tls = std::get<TlsClientAddress>(listener.client_address);
    constexpr std::size_t attempts = 30;
    for (std::size_t i = 0; i < attempts; ++i) {
        RawPeer peer{TcpClientAddress{tls.host, tls.port}};
        (void)peer.send(broken_client_hello());
        EXPECT_GT(peer.wait_closed(), 0U) << "the listener answers with an alert before it closes";
    }
    std::size_t counted = 0;
    std::size_t reports = 0;
    while (counted < attempts) {
        MessagePtr report = wait_for(
            *server_,
            [&](const Message& m) {
                return is_engine_signal(m, AmpeStatus::accept_failed, listener.channel);
            },
            "the listener's reports of failed handshakes");
        counted += std::stoul(header_value(*report, header::failed_handshakes));
        ++reports;
    }
    EXPECT_EQ(counted, attempts);
    EXPECT_LT(reports, attempts) << "one report per failed handshake";
    // It costs the listener nothing lasting: a real client is served as before.
    const std::uint16_t client = connect(listener.client_address);
    const std::uint16_t server = accept_client(*server_);
    (void)wait_hello_response(*client_, client);
    round_trip(*client_ampe_, *client_, *server_, Connection{client, server}, "after the failures");
}

TEST_F(Tls, APeerCutOffInsideARecordOrItsHandshakeCostsTheListenerNothing) {
    const Listener listener = listen(test_pki().server);
    const auto& tls = std::get<TlsClientAddress>(listener.client_address);
    // A record header that promises 512 bytes, then a reset; then one that half-closes.
    const std::array<std::byte, 5> record_start{std::byte{0x16}, std::byte{0x03}, std::byte{0x01},
                                                std::byte{0x02}, std::byte{0x00}};
    {
        RawPeer peer{TcpClientAddress{tls.host, tls.port}};
        ASSERT_TRUE(peer.send(record_start));
        peer.reset();
    }
    {
        RawPeer peer{TcpClientAddress{tls.host, tls.port}};
        ASSERT_TRUE(peer.send(record_start));
        peer.shutdown_write();
        (void)peer.wait_closed();
    }
    // An established client killed in the middle of a stream of big messages.
    {
        auto doomed_ampe = Reactor::create(Options{});
        auto doomed = doomed_ampe->create();
        MessagePtr hello = hello_message(*doomed_ampe, listener.client_address);
        const std::uint16_t channel = doomed->post(hello).channel_number;
        const std::uint16_t server = accept_client(*server_);
        (void)wait_hello_response(*doomed, channel);
        for (int i = 0; i < 64; ++i) {
            MessagePtr m = make_message(*doomed_ampe, OpCode::signal, channel);
            const std::vector<std::byte> body = pattern_bytes(16384, static_cast<std::uint64_t>(i));
            m->body.append(body);
            (void)doomed->post(m);
        }
        doomed.reset();
        doomed_ampe.reset();  // its sockets reset, records cut wherever they were
        MessagePtr closed = wait_channel_closed(*server_, server);
        EXPECT_TRUE(closed->is_from_engine());
    }
    const std::uint16_t client = connect(listener.client_address);
    const std::uint16_t server = accept_client(*server_);
    (void)wait_hello_response(*client_, client);
    round_trip(*client_ampe_, *client_, *server_, Connection{client, server}, "after the cut-off peers");
}

/// A raw OpenSSL client on 127.0.0.1 (test support's handshake), for what a conforming peer
/// never does. Its connection stays open until it is gone, and then closes without a word.
class RawTlsClient {
public:
    /// Connects to `port` and makes the handshake; `buffer`: the socket's buffer sizes (0: the
    /// OS's).
    explicit RawTlsClient(std::uint16_t port, int buffer = 0)
        : fd_{connect_raw(TcpClientAddress{"127.0.0.1", port}, event_timeout)} {
        if (buffer != 0) {
            (void)::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
            (void)::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
        }
        ssl_ = static_cast<SSL*>(raw_tls::connect(fd_, error_));
    }
    ~RawTlsClient() {
        raw_tls::close(ssl_);
        ::close(fd_);
    }
    RawTlsClient(const RawTlsClient&) = delete;
    RawTlsClient& operator=(const RawTlsClient&) = delete;
    RawTlsClient(RawTlsClient&&) = delete;
    RawTlsClient& operator=(RawTlsClient&&) = delete;

    /// Connected at TLS 1.3 (the listener's minimum); else `error` says why not.
    [[nodiscard]] bool connected() const noexcept {
        return ssl_ != nullptr && SSL_version(ssl_) == TLS1_3_VERSION;
    }
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    [[nodiscard]] void* session() const noexcept { return ssl_; }

    /// Sends `bytes` on the socket as they are (records made with `raw_tls::seal`, or parts of them).
    [[nodiscard]] bool send_raw(std::span<const std::byte> bytes) const {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) {
                return false;
            }
            bytes = bytes.subspan(static_cast<std::size_t>(n));
        }
        return true;
    }

protected:
    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] SSL* ssl() const noexcept { return ssl_; }

private:
    int fd_;
    SSL* ssl_ = nullptr;
    std::string error_;
};

/// A client that keeps asking for key updates (each asks the listener to answer with one of its
/// own) and reads nothing. Its own buffers hold little: the engine's count.
class KeyUpdateAsker : public RawTlsClient {
public:
    explicit KeyUpdateAsker(std::uint16_t port) : RawTlsClient{port, 16 * 1024} {}

    /// Asks up to `most` times; returns how many requests the socket took before it took nothing
    /// for 2 s (or the listener closed the connection).
    std::size_t ask(std::size_t most) {
        (void)::fcntl(fd(), F_SETFL, ::fcntl(fd(), F_GETFL) | O_NONBLOCK);
        std::size_t sent = 0;
        bool asking = false;  // a key update OpenSSL holds until the socket takes it
        while (sent < most && (asking || SSL_key_update(ssl(), SSL_KEY_UPDATE_REQUESTED) == 1)) {
            asking = true;
            const int rc = SSL_do_handshake(ssl());
            if (rc == 1) {
                asking = false;
                ++sent;
                continue;
            }
            // The listener closed the connection, or its socket took nothing for 2 s: the
            // listener reads it no more.
            pollfd room{.fd = fd(), .events = POLLOUT, .revents = 0};
            if (SSL_get_error(ssl(), rc) != SSL_ERROR_WANT_WRITE || ::poll(&room, 1, 2000) != 1) {
                break;
            }
        }
        return sent;
    }
};

TEST_F(Tls, APeerThatAsksForKeyUpdatesAndNeverReadsIsReadNoMoreAndCostsItsBudget) {
    // Each key update the peer asks for makes the listener's OpenSSL write one: a peer that asks
    // without end and never reads must not pile them up, nor keep the engine reading it.
    server_.reset();
    std::unique_ptr<Reactor> engine = Reactor::create(Options{.handshake_timeout = std::chrono::seconds{60}});
    Reactor& reactor = *engine;
    server_ampe_ = std::move(engine);
    server_ = server_ampe_->create();
    const Listener listener = listen(test_pki().server);
    const auto& tls = std::get<TlsClientAddress>(listener.client_address);
    KeyUpdateAsker hostile{tls.port};
    ASSERT_TRUE(hostile.connected());
    // The listener's socket buffers hold what it answered before it stopped reading (here about
    // 150,000 answers: tcp_wmem's 4 MiB); far more means it never stopped.
    constexpr std::size_t most = 1000000;
    std::size_t asked = 0;
    std::thread asking{[&] { asked = hostile.ask(most); }};
    // While it asks, and after (its connection stays open), the others are served.
    const std::uint16_t client = connect(listener.client_address);
    const std::uint16_t server = accept_client(*server_);
    (void)wait_hello_response(*client_, client);
    round_trip(*client_ampe_, *client_, *server_, Connection{client, server},
               "while a peer asks for key updates");
    asking.join();
    EXPECT_LT(asked, most) << "the listener kept reading a peer that never reads its answers";
    const EngineMemory memory = reactor.memory();
    EXPECT_LE(memory.largest_channel, channel_budget(Options{}))
        << "after " << asked << " key updates asked for";
    round_trip(*client_ampe_, *client_, *server_, Connection{client, server},
               "after a peer asked for key updates");
}

TEST_F(Tls, ACloseNotifyThatArrivesWithTheLastRecordEndsTheChannel) {
    // A record and the close_notify after it in one segment: OpenSSL reads both at once, and no
    // socket event follows while the peer keeps its socket open. The end must be seen all the same.
    const Listener listener = listen(test_pki().server);
    const auto& tls = std::get<TlsClientAddress>(listener.client_address);
    RawTlsClient peer{tls.port};
    ASSERT_TRUE(peer.connected()) << peer.error();
    ASSERT_TRUE(peer.send_raw(raw_tls::seal(peer.session(), hello_frame(1, 1))));
    const std::uint16_t server = accept_client(*server_);

    BinaryHeader request;
    request.proto.op_code = OpCode::request;
    request.channel_number = 1;
    request.message_id = 2;
    const std::string_view words = "last words";
    std::vector<std::byte> bytes =
        raw_tls::seal(peer.session(), encode_frame(request, {}, std::as_bytes(std::span{words})));
    const std::vector<std::byte> end = raw_tls::close_notify(peer.session());
    ASSERT_FALSE(bytes.empty());
    ASSERT_FALSE(end.empty());
    bytes.insert(bytes.end(), end.begin(), end.end());
    ASSERT_TRUE(peer.send_raw(bytes));

    const MessagePtr last = wait_for_op(*server_, OpCode::request, server);
    EXPECT_EQ(last->body.text(), words);
    const MessagePtr closed = wait_channel_closed(*server_, server);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);
}

TEST_F(Tls, APeerThatStopsInsideARecordCostsNoCpuAndItsRecordArrivesWhole) {
    // OpenSSL reads ahead: what it holds of a record may be no more than its start. The engine
    // must wait for the rest from the socket, not read again and again while it holds it.
    const Listener listener = listen(test_pki().server);
    const auto& tls = std::get<TlsClientAddress>(listener.client_address);
    const TcpClientAddress tcp{tls.host, tls.port};
    // In the handshake: a record header that promises 512 bytes, and 8 of them.
    std::vector<std::byte> hello_start{std::byte{0x16}, std::byte{0x03}, std::byte{0x01}, std::byte{0x02},
                                       std::byte{0x00}, std::byte{0x01}, std::byte{0x00}, std::byte{0x01}};
    hello_start.resize(hello_start.size() + 5, std::byte{0x03});
    RawPeer handshaking{tcp};
    ASSERT_TRUE(handshaking.send(hello_start));
    // After the handshake: half the record of a HelloRequest.
    RawTlsClient established{tls.port};
    ASSERT_TRUE(established.connected()) << established.error();
    const std::vector<std::byte> record = raw_tls::seal(established.session(), hello_frame(1, 1));
    ASSERT_GT(record.size(), 40U);
    const std::span<const std::byte> halves{record};
    ASSERT_TRUE(established.send_raw(halves.first(record.size() / 2)));

    const std::uint16_t client = connect(listener.client_address);
    const std::uint16_t server = accept_client(*server_);
    (void)wait_hello_response(*client_, client);
    for (int i = 0; i < 10; ++i) {
        round_trip(*client_ampe_, *client_, *server_, Connection{client, server},
                   "while two peers stop inside a record");
    }
    expect_idle_second();

    ASSERT_TRUE(established.send_raw(halves.subspan(record.size() / 2)));
    (void)accept_hello(*server_, wait_hello_request(*server_));
}

TEST_F(Tls, TheHandshakeCountsAgainstTheConnectTimeout) {
    // A server that accepts and never answers the ClientHello.
    RawListener silent;
    const auto& tcp = std::get<TcpClientAddress>(silent.client_address());
    const std::uint16_t client =
        connect(TlsClientAddress{tcp.host, tcp.port}, {{std::string{header::connect_timeout}, "200"}});
    const std::unique_ptr<RawPeer> accepted = silent.accept();
    MessagePtr back = failed_hello(client);
    EXPECT_EQ(back->bhdr.status, AmpeStatus::connect_failed) << describe(*back);
    EXPECT_NE(header_value(*back, header::detail).find("200 ms"), std::string::npos) << describe(*back);
}

TEST_F(Tls, TheHandshakeCountsAgainstTheHandshakeTimeout) {
    server_.reset();
    server_ampe_ = Reactor::create(Options{.handshake_timeout = std::chrono::milliseconds{200}});
    server_ = server_ampe_->create();
    const Listener listener = listen(test_pki().server);
    const auto& tls = std::get<TlsClientAddress>(listener.client_address);
    RawPeer silent{TcpClientAddress{tls.host, tls.port}};  // connects, never says a word
    MessagePtr report = wait_for(
        *server_,
        [&](const Message& m) { return is_engine_signal(m, AmpeStatus::accept_failed, listener.channel); },
        "the listener's report of the silent client");
    EXPECT_EQ(header_value(*report, header::failed_handshakes), "1") << describe(*report);
    (void)silent.wait_closed();
}

TEST_F(Tls, ARefusedPeerReadsTheAlertBeforeTheConnectionCloses) {
    const Listener listener = listen(test_pki().server);
    const auto& tls = std::get<TlsClientAddress>(listener.client_address);
    RawPeer peer{TcpClientAddress{tls.host, tls.port}};
    ASSERT_TRUE(peer.send(broken_client_hello()));
    // A TLS alert record is 7 bytes: content type 21, version, length 2, level, description.
    EXPECT_EQ(peer.wait_closed(), 7U);
}

TEST_F(Tls, APeerThatFillsTheHeaderBlockCannotPushItsNamesOut) {
    // The application must never take a Hello without the names for one that has them: a Hello
    // whose text headers leave no room for them is refused.
    client_.reset();
    client_ampe_ = Reactor::create(Options{.tls = TlsOptions{.certificate_chain = test_pki().client.cert,
                                                             .private_key = test_pki().client.key,
                                                             .ca = test_pki().ca}});
    client_ = client_ampe_->create();
    const Listener listener = listen(test_pki().server, true);
    MessagePtr hello = client_ampe_->get(AllocationStrategy::always);
    format(*hello, listener.client_address);
    const std::size_t room = max_part_size - hello->thdrs.size() - std::string_view{"x-fill:\r\n"}.size();
    hello->thdrs.append("x-fill", std::string(room, 'x'));
    const std::uint16_t client = client_->post(hello).channel_number;
    MessagePtr closed = wait_for(
        *server_, [](const Message& m) { return is_any_channel_closed(m); },
        "the refused Hello's channel_closed");
    EXPECT_EQ(reason_of(*closed), "invalid_headers_len") << describe(*closed);
    EXPECT_NE(header_value(*closed, header::detail).find("~peer"), std::string::npos) << describe(*closed);
    (void)wait_channel_closed(*client_, client);
}

TEST_F(Tls, HostileCertificateNamesAreEscapedBoundedAndCostNothingLasting) {
    // A certificate says what its owner chose; signed by the CA, it is verified and named. Line
    // breaks that would forge headers, and more and longer names than a header block holds.
    const std::string forged = "\r\n~peer_subject:CN=admin\r\nx-forged:1";
    std::vector<std::string> dns_names;
    dns_names.reserve(70);
    for (int i = 0; i < 70; ++i) {
        dns_names.push_back(std::to_string(i) + forged + ",O=x" + std::string(960, 'a'));
    }
    const CertFiles hostile = issue_test_certificate("hostile", "evil" + forged, "IP:127.0.0.1", dns_names);
    const auto expect_named_safely = [](const Message& hello, const char* who) {
        std::size_t subjects = 0;
        std::vector<std::string> names;
        std::vector<std::string_view> order;
        for (const auto& [n, v] : hello.thdrs) {
            EXPECT_EQ(v.find_first_of("\r\n"), std::string_view::npos) << who << ": " << n;
            EXPECT_NE(n, "x-forged") << who;
            subjects += n == header::peer_subject ? 1 : 0;
            if (n == header::peer_san) {
                names.emplace_back(v);
            }
            order.push_back(n);
        }
        EXPECT_EQ(subjects, 1U) << who;
        EXPECT_NE(header_value(hello, header::peer_subject).find("evil\\0D\\0A~peer_subject:"),
                  std::string::npos)
            << who << ": " << header_value(hello, header::peer_subject);
        if (names.size() < 2) {
            ADD_FAILURE() << who << ": " << names.size() << " ~peer_san";
            return order;
        }
        EXPECT_EQ(names.front(), "IP:127.0.0.1") << who;
        EXPECT_NE(names[1].find("\\0D\\0A~peer_subject:CN\\=admin"), std::string::npos)
            << who << ": " << names[1];
        EXPECT_LT(names.size(), 70U) << who << ": not every name fits";
        EXPECT_TRUE(names.back().ends_with("..."))
            << who << ": the last name is said to be cut; " << names.size() << " names, the last "
            << names.back().size() << " bytes, block " << hello.thdrs.size();
        EXPECT_LE(hello.thdrs.size(), max_part_size) << who;
        return order;
    };

    const Listener listener = listen(hostile, true);
    const std::uint16_t client =
        connect(listener.client_address,
                {{std::string{header::tls_cert}, hostile.cert}, {std::string{header::tls_key}, hostile.key}});
    MessagePtr hello = wait_hello_request(*server_);
    const std::vector<std::string_view> order = expect_named_safely(*hello, "the listener's HelloRequest");
    ASSERT_GE(order.size(), 2U);
    EXPECT_EQ(order[order.size() - 2], header::listener) << "the engine's names stay last";
    EXPECT_EQ(order.back(), header::peer);
    const std::uint16_t server = accept_hello(*server_, std::move(hello));
    MessagePtr response = wait_hello_response(*client_, client);
    (void)expect_named_safely(*response, "the client's HelloResponse");
    round_trip(*client_ampe_, *client_, *server_, Connection{client, server}, "hostile names");

    // Names too long for the block: each cut after 1,024 bytes, and the list where the block ends.
    const CertFiles lengthy = issue_test_certificate("lengthy", "lengthy", "IP:127.0.0.1",
                                                     std::vector<std::string>(63, std::string(1100, 'b')));
    const std::uint16_t long_client =
        connect(listener.client_address,
                {{std::string{header::tls_cert}, lengthy.cert}, {std::string{header::tls_key}, lengthy.key}});
    MessagePtr long_hello = wait_hello_request(*server_);
    const std::vector<std::string> long_names = all_values(*long_hello, header::peer_san);
    ASSERT_GT(long_names.size(), 2U);
    EXPECT_LT(long_names.back().size(), long_names[1].size()) << "the last is cut to fit the block";
    for (std::size_t i = 1; i < long_names.size(); ++i) {
        EXPECT_TRUE(long_names[i].ends_with("...")) << i << ": " << long_names[i].size();
        EXPECT_LE(long_names[i].size(), std::string_view{"DNS:"}.size() + 1024 + 3) << i;
    }
    EXPECT_LE(long_hello->thdrs.size(), max_part_size);
    const std::uint16_t long_server = accept_hello(*server_, std::move(long_hello));
    (void)wait_hello_response(*client_, long_client);
    round_trip(*client_ampe_, *client_, *server_, Connection{long_client, long_server}, "long names");

    // The listener serves the next client as before.
    const std::uint16_t next =
        connect(listener.client_address, {{std::string{header::tls_cert}, test_pki().client.cert},
                                          {std::string{header::tls_key}, test_pki().client.key}});
    MessagePtr next_hello = wait_hello_request(*server_);
    EXPECT_EQ(header_value(*next_hello, header::peer_subject), "CN=tofu test client,O=tofu tests");
    const std::uint16_t next_server = accept_hello(*server_, std::move(next_hello));
    (void)wait_hello_response(*client_, next);
    round_trip(*client_ampe_, *client_, *server_, Connection{next, next_server}, "after the hostile one");
}

TEST_F(Tls, BothSidesFloodingEachOtherWithBigMessagesCorruptNothing) {
    // Full sockets both ways while each side owes the other confirmations: what the stream holds
    // for the socket must never be mixed up with what the queue puts in front meanwhile.
    const Listener listener = listen(test_pki().server);
    const Connection c = establish(*client_ampe_, *client_, *server_, listener.client_address);
    constexpr std::uint64_t count = 600;
    constexpr std::size_t size = 16384 + 7;
    const auto flood = [&](Ampe& ampe, ChannelGroup& group, std::uint16_t channel) {
        for (std::uint64_t id = 1; id <= count; ++id) {
            MessagePtr m = make_message(ampe, OpCode::signal, channel, id);
            m->body.copy(pattern_bytes(size, id));
            (void)group.post(m);
        }
    };
    const auto drain = [&](ChannelGroup& group, std::uint16_t channel) {
        std::uint64_t next = 1;
        while (next <= count) {
            MessagePtr m = receive(group);
            if (m->is_from_engine()) {
                ASSERT_EQ(m->bhdr.status, AmpeStatus::pool_empty) << describe(*m);
                continue;
            }
            ASSERT_EQ(m->bhdr.channel_number, channel);
            ASSERT_EQ(m->bhdr.message_id, next) << "out of order, duplicated or missing";
            ASSERT_TRUE(matches_pattern(m->body.data(), size, next)) << "corrupt message " << next;
            ++next;
        }
    };
    // Everything is posted before anyone reads: the pools run dry, reading stops, the sockets fill.
    flood(*client_ampe_, *client_, c.client);
    flood(*server_ampe_, *server_, c.server);
    run_concurrently(2,
                     [&](std::size_t i) { i == 0 ? drain(*server_, c.server) : drain(*client_, c.client); });
    round_trip(*client_ampe_, *client_, *server_, c, "after the floods");
}

/// A one-connection TLS server of OpenSSL's own (not tofu's), on 127.0.0.1: it records the
/// server name (SNI) the client sent, if any, and completes the handshake.
class SniRecorder {
public:
    SniRecorder() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): the socket API's casts
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 1) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            throw TestFailure{"SNI recorder: cannot listen"};
        }
        // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread{[this] { serve(); }};
    }
    SniRecorder(const SniRecorder&) = delete;
    SniRecorder& operator=(const SniRecorder&) = delete;
    SniRecorder(SniRecorder&&) = delete;
    SniRecorder& operator=(SniRecorder&&) = delete;
    ~SniRecorder() {
        ::shutdown(fd_, SHUT_RDWR);
        if (thread_.joinable()) {
            thread_.join();
        }
        ::close(fd_);
    }

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    /// After the handshake: the name the client sent, or nothing.
    [[nodiscard]] std::optional<std::string> server_name() {
        thread_.join();
        thread_ = std::thread{};
        return name_;
    }

private:
    void serve() {
        const int conn = ::accept(fd_, nullptr, nullptr);
        if (conn < 0) {
            return;
        }
        SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
        (void)SSL_CTX_use_certificate_chain_file(ctx, test_pki().server.cert.c_str());
        (void)SSL_CTX_use_PrivateKey_file(ctx, test_pki().server.key.c_str(), SSL_FILETYPE_PEM);
        SSL* ssl = SSL_new(ctx);
        SSL_set_fd(ssl, conn);
        if (SSL_accept(ssl) == 1) {
            if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) {
                name_ = name;
            }
        }
        SSL_free(ssl);
        SSL_CTX_free(ctx);
        ::close(conn);
    }

    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::optional<std::string> name_;
    std::thread thread_;
};

TEST_F(Tls, AClientSendsTheServerNameAsSniButNeverAnIpAddress) {
    {
        // The name it checks the certificate against is the one it sends (`~tls_server_name` here,
        // the address's host name when it has none).
        SniRecorder server;
        const std::uint16_t client = connect(TlsClientAddress{"127.0.0.1", server.port()},
                                             {{std::string{header::tls_server_name}, "localhost"}});
        EXPECT_EQ(server.server_name(), std::optional<std::string>{"localhost"});
        (void)wait_channel_closed(*client_, client);  // no HelloResponse comes from it
    }
    {
        SniRecorder server;
        const std::uint16_t client = connect(TlsClientAddress{"127.0.0.1", server.port()});
        EXPECT_EQ(server.server_name(), std::nullopt);
        (void)wait_channel_closed(*client_, client);
    }
}

TEST(TlsNames, AreEscapedAsRfc4514SaysAndNeverCarryALineBreak) {
    using detail::escape_rfc4514;
    EXPECT_EQ(escape_rfc4514("plain.example"), "plain.example");
    EXPECT_EQ(escape_rfc4514("a,b+c\"d\\e<f>g;h=i"), "a\\,b\\+c\\\"d\\\\e\\<f\\>g\\;h\\=i");
    EXPECT_EQ(escape_rfc4514("#lead and trail "), "\\#lead and trail\\ ");
    EXPECT_EQ(escape_rfc4514("evil\r\n~peer_subject:CN=admin"), "evil\\0D\\0A~peer_subject:CN\\=admin");
    EXPECT_EQ(escape_rfc4514(std::string_view{"nul\0del\x7f", 8}), "nul\\00del\\7F");
    // What OpenSSL already escaped keeps its escapes; only control bytes are added to them.
    EXPECT_EQ(escape_rfc4514("CN=a\\,b\n", true), "CN=a\\,b\\0A");
}

#endif

}  // namespace
}  // namespace tofu::test

// Fuzz target: a TLS listener's first bytes. One engine listens on tls|127.0.0.1|0 for the whole run
// (a certificate for 127.0.0.1 made at start by pki/throwaway_pki.hpp). Each input is one raw
// TCP connection that writes the input, ends its side and reads until the engine closes the
// connection: a handshake that fails must cost the listener nothing lasting. The engine's reports
// (`accept_failed`, at most one a second) are drained. Every `probe_every` inputs, and after the
// first, a real TLS client (OpenSSL, trusting that CA and checking the IP address) must still
// complete a handshake with the listener, and the engine must still run.
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <variant>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "pki/throwaway_pki.hpp"

namespace {

constexpr auto report_timeout = std::chrono::seconds{30};
constexpr int close_timeout_ms = 30'000;  // a safety net: the engine's handshake_timeout is shorter
constexpr std::uint64_t probe_every = 256;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "tls_listener_fuzz: %s\n", what);
    std::abort();
}

struct Server {
    tofu::pki::ThrowawayPki pki{"tofu-fuzz-pki"};
    std::string ca = pki.add_ca("ca", "tofu fuzz CA");
    // The probe client connects to 127.0.0.1 and checks that the certificate names it.
    tofu::pki::CertFiles cert = pki.issue("server", "ca", "tofu fuzz listener", "IP:127.0.0.1");
    std::unique_ptr<tofu::Reactor> engine;
    tofu::ChannelGroupPtr group;
    std::uint16_t listener = 0;
    std::uint16_t port = 0;
    std::uint64_t inputs = 0;

    Server() {
        tofu::Options options{};
        options.tls.certificate_chain = cert.cert;
        options.tls.private_key = cert.key;
        // A peer that sends half a handshake and stalls is let go soon (each input ends its side).
        options.handshake_timeout = std::chrono::milliseconds{2000};
        engine = tofu::Reactor::create(options);
        group = engine->create();
        tofu::MessagePtr welcome = engine->get(tofu::AllocationStrategy::always);
        tofu::format(*welcome, tofu::TlsServerAddress{"127.0.0.1", 0});
        listener = group->post(welcome).channel_number;
        const tofu::MessagePtr ready = group->wait_receive(report_timeout);
        if (!ready || ready->bhdr.proto.op_code != tofu::OpCode::welcome_response ||
            ready->bhdr.status != tofu::AmpeStatus::success) {
            fail("the tls listener did not start");
        }
        const tofu::ParsedAddress bound = tofu::parse_address(*ready);
        const auto* tls = std::get_if<tofu::TlsServerAddress>(&bound.address);
        if (tls == nullptr || tls->port == 0) {
            fail("no bound port");
        }
        port = tls->port;
    }
};

Server& server() {
    static Server s;
    return s;
}

int connect_raw(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0) {
        fail("cannot connect to the tls listener");
    }
    return fd;
}

/// Writes `bytes` as far as the engine takes them, reading (and dropping) what it answers
/// meanwhile, ends our side, then reads until the engine closes the connection.
void feed_and_wait_for_close(int fd, std::span<const std::uint8_t> bytes) {
    std::array<char, 16384> scratch{};
    bool writing = true;
    for (;;) {
        if (writing && bytes.empty()) {
            ::shutdown(fd, SHUT_WR);
            writing = false;
        }
        pollfd p{fd, static_cast<short>(POLLIN | (writing ? POLLOUT : 0)), 0};
        const int ready = ::poll(&p, 1, close_timeout_ms);
        if (ready < 0 && errno == EINTR) {
            continue;  // libFuzzer's timer signal (-timeout), every half timeout: poll again
        }
        if (ready <= 0) {
            fail("the engine neither read nor closed the connection in time");
        }
        if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            const ssize_t n = ::recv(fd, scratch.data(), scratch.size(), MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                return;  // closed (an alert first, perhaps) or reset: the engine is done with it
            }
        }
        if (writing && (p.revents & POLLOUT) != 0) {
            const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                bytes = bytes.subspan(static_cast<std::size_t>(n));
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                writing = false;  // the engine closed already; read what is left
            }
        }
    }
}

/// Drops what the engine reported (accept_failed summaries); fails if the listener closed.
void drain(Server& s) {
    for (tofu::MessagePtr m = s.group->wait_receive(std::chrono::nanoseconds{0}); m;
         m = s.group->wait_receive(std::chrono::nanoseconds{0})) {
        if (m->is_from_engine() && m->bhdr.channel_number == s.listener &&
            m->bhdr.proto.op_code == tofu::OpCode::signal &&
            m->bhdr.status == tofu::AmpeStatus::channel_closed) {
            fail("the tls listener closed");
        }
    }
}

/// A real TLS client completes a handshake with the listener, verifying its certificate.
void probe(Server& s) {
    const std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{SSL_CTX_new(TLS_client_method()),
                                                                &SSL_CTX_free};
    if (!ctx || SSL_CTX_load_verify_locations(ctx.get(), s.ca.c_str(), nullptr) != 1) {
        fail("probe: cannot load the CA");
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    const int fd = connect_raw(s.port);
    const std::unique_ptr<SSL, decltype(&SSL_free)> ssl{SSL_new(ctx.get()), &SSL_free};
    if (!ssl || SSL_set_fd(ssl.get(), fd) != 1 ||
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), "127.0.0.1") != 1) {
        fail("probe: SSL setup");
    }
    if (SSL_connect(ssl.get()) != 1) {
        fail("probe: a real TLS client cannot complete a handshake with the listener any more");
    }
    static_cast<void>(SSL_shutdown(ssl.get()));
    ::close(fd);
    if (s.engine->memory().channels == 0) {
        fail("the engine stopped");
    }
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's entry point
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Server& s = server();
    const int fd = connect_raw(s.port);
    feed_and_wait_for_close(fd, {data, size});
    ::close(fd);
    drain(s);
    if (s.inputs++ % probe_every == 0) {
        probe(s);
    }
    return 0;
}

// "nng": NNG (1.5) through its C API. Throughput is push0 (dials) to pull0 (listens) with
// NNG_OPT_SENDBUF and NNG_OPT_RECVBUF at their largest, 8192 messages; latency is req0 (dials) to
// rep0 (listens). TCP_NODELAY is NNG's default.
// Copies: a sender copies each message from its preallocated buffer with nng_send (as an
// application with data of its own does); a receiver takes each message with nng_recvmsg, looks at
// it in place and frees it, without copying it out. NNG allocates a message per send and per
// receive itself either way.
// Closing: NNG 1.5 has no linger option, and nng_close discards whatever still waits in a socket's
// queues (measured: a push socket closed right after its last nng_send lost 2-45% of the messages).
// So the last sender of each pattern, `source` and `echo` (for its last reply), keeps its socket
// open until the peer hangs up, which the peer does only once it took its last message. A pipe
// notification (NNG_PIPE_EV_REM_POST) reports the hang-up, so no second endpoint is needed.
// Sends and receives fail after `stall_timeout_ms` without progress, so a vanished peer is an
// error, not a hang.
// Over `tls` NNG runs tls+tcp (Debian's libnng: mbedTLS 2.28, TLS 1.2 only) with the benchmark's
// certificate (secrets.hpp); the dialer verifies it against the CA and the name "localhost"
// (mbedTLS 2.28 matches DNS names, not IP SANs). The handshake test dials a fresh req0 socket for
// each round.
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "contender.hpp"
#include "secrets.hpp"

namespace tofu::bench {
namespace {

constexpr nng_duration stall_timeout_ms = 30'000;
constexpr int queue_messages = 8192;  // the largest NNG_OPT_SENDBUF / NNG_OPT_RECVBUF

[[noreturn]] void fail_nng(const std::string& what, int error) {
    fail("nng", what + ": " + nng_strerror(error));
}

std::string url(const Endpoint& at) {
    if (at.transport == Transport::uds) {
        return "ipc://" + at.path;  // an absolute path makes ipc:///...
    }
    const bool ipv6 = at.host.find(':') != std::string::npos;
    const std::string host = ipv6 ? "[" + at.host + "]" : at.host;
    return (at.transport == Transport::tls ? "tls+tcp://" : "tcp://") + host + ":" + std::to_string(at.port);
}

std::string file_text(const std::string& path) {
    std::ifstream in{path};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/// Owns an nng_tls_config: a server's with the benchmark's certificate, or a client's that
/// requires that certificate.
class TlsConfig {
public:
    explicit TlsConfig(bool server) {
        if (const int rv = nng_tls_config_alloc(&config_, server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT);
            rv != 0) {
            fail_nng("nng_tls_config_alloc", rv);
        }
        int rv = 0;
        if (server) {
            rv = nng_tls_config_own_cert(config_, file_text(secrets().cert).c_str(),
                                         file_text(secrets().key).c_str(), nullptr);
        } else if ((rv = nng_tls_config_ca_file(config_, secrets().ca.c_str())) == 0 &&
                   (rv = nng_tls_config_server_name(config_, "localhost")) == 0) {
            rv = nng_tls_config_auth_mode(config_, NNG_TLS_AUTH_MODE_REQUIRED);
        }
        if (rv != 0) {
            nng_tls_config_free(config_);
            fail_nng(server ? "TLS server configuration" : "TLS client configuration", rv);
        }
    }
    TlsConfig(const TlsConfig&) = delete;
    TlsConfig& operator=(const TlsConfig&) = delete;
    TlsConfig(TlsConfig&&) = delete;
    TlsConfig& operator=(TlsConfig&&) = delete;
    ~TlsConfig() { nng_tls_config_free(config_); }  // the listener or dialer keeps its own reference

    [[nodiscard]] nng_tls_config* get() const noexcept { return config_; }

private:
    nng_tls_config* config_ = nullptr;
};

using Opener = int (*)(nng_socket*);

/// Owns an nng socket.
class Socket {
public:
    Socket(Opener open, const char* protocol) {
        if (const int rv = open(&socket_); rv != 0) {
            fail_nng(std::string{protocol} + " open", rv);
        }
        try {
            set_ms(NNG_OPT_SENDTIMEO, stall_timeout_ms);
            set_ms(NNG_OPT_RECVTIMEO, stall_timeout_ms);
            set_size(NNG_OPT_RECVMAXSZ, 0);  // no limit: the size check reports a wrong size instead
        } catch (...) {
            nng_close(socket_);
            throw;
        }
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    Socket(Socket&&) = delete;
    Socket& operator=(Socket&&) = delete;
    ~Socket() { nng_close(socket_); }

    void set_int(const char* option, int value) {
        if (const int rv = nng_socket_set_int(socket_, option, value); rv != 0) {
            fail_nng(std::string{"set "} + option, rv);
        }
    }

    void listen(const Endpoint& at) {
        const std::string address = url(at);
        if (at.transport == Transport::tls) {
            const TlsConfig config{true};
            nng_listener listener = NNG_LISTENER_INITIALIZER;
            int rv = nng_listener_create(&listener, socket_, address.c_str());
            if (rv == 0 && (rv = nng_listener_set_ptr(listener, NNG_OPT_TLS_CONFIG, config.get())) == 0) {
                rv = nng_listener_start(listener, 0);
            }
            if (rv != 0) {
                fail_nng("nng_listener " + address, rv);
            }
            return;
        }
        if (const int rv = nng_listen(socket_, address.c_str(), nullptr, 0); rv != 0) {
            fail_nng("nng_listen " + address, rv);
        }
    }

    void dial(const Endpoint& at) {
        const std::string address = url(at);
        if (at.transport == Transport::tls) {
            const TlsConfig config{false};
            nng_dialer dialer = NNG_DIALER_INITIALIZER;
            int rv = nng_dialer_create(&dialer, socket_, address.c_str());
            if (rv == 0 && (rv = nng_dialer_set_ptr(dialer, NNG_OPT_TLS_CONFIG, config.get())) == 0) {
                rv = nng_dialer_start(dialer, 0);  // 0: returns once connected
            }
            if (rv != 0) {
                fail_nng("nng_dialer " + address, rv);
            }
            return;
        }
        if (const int rv = nng_dial(socket_, address.c_str(), nullptr, 0); rv != 0) {
            fail_nng("nng_dial " + address, rv);
        }
    }

    [[nodiscard]] nng_socket get() const noexcept { return socket_; }

    void set_ms(const char* option, nng_duration value) {
        if (const int rv = nng_socket_set_ms(socket_, option, value); rv != 0) {
            fail_nng(std::string{"set "} + option, rv);
        }
    }

private:
    void set_size(const char* option, std::size_t value) {
        if (const int rv = nng_socket_set_size(socket_, option, value); rv != 0) {
            fail_nng(std::string{"set "} + option, rv);
        }
    }

    nng_socket socket_ = NNG_SOCKET_INITIALIZER;
};

/// Learns when a socket's peer hangs up (a pipe of the socket is removed). Must be made before
/// the socket and outlive it: nng_close may still run the notification, and returns after it.
class HangUpWatch {
public:
    void watch(const Socket& socket) {
        if (const int rv = nng_pipe_notify(socket.get(), NNG_PIPE_EV_REM_POST, &HangUpWatch::on_remove, this);
            rv != 0) {
            fail_nng("nng_pipe_notify", rv);
        }
    }

    /// Blocks until a pipe was removed. No time limit: a peer that exits or fails closes its side.
    void wait() {
        std::unique_lock lock{mutex_};
        removed_cv_.wait(lock, [this] { return removed_; });
    }

private:
    static void on_remove(nng_pipe /*pipe*/, nng_pipe_ev /*event*/, void* self) {
        auto* watch = static_cast<HangUpWatch*>(self);
        {
            const std::lock_guard lock{watch->mutex_};
            watch->removed_ = true;
        }
        watch->removed_cv_.notify_all();
    }

    std::mutex mutex_;
    std::condition_variable removed_cv_;
    bool removed_ = false;
};

std::string nth(std::size_t index, std::size_t total) {
    return "message " + std::to_string(index + 1) + " of " + std::to_string(total);
}

/// Receives message `index` (from 0); it must be `size` bytes.
void receive(const Socket& socket, std::size_t size, std::size_t index, std::size_t total) {
    nng_msg* message = nullptr;
    if (const int rv = nng_recvmsg(socket.get(), &message, 0); rv != 0) {
        fail_nng("nng_recvmsg " + nth(index, total), rv);
    }
    const std::size_t got = nng_msg_len(message);
    nng_msg_free(message);
    if (got != size) {
        fail("nng",
             nth(index, total) + " has " + std::to_string(got) + " bytes, expected " + std::to_string(size));
    }
}

/// Sends message `index` (from 0), a copy of `payload`.
void send(const Socket& socket, std::vector<char>& payload, std::size_t index, std::size_t total) {
    if (const int rv = nng_send(socket.get(), payload.data(), payload.size(), 0); rv != 0) {
        fail_nng("nng_send " + nth(index, total), rv);
    }
}

class NngContender final : public Contender {
public:
    [[nodiscard]] std::string_view name() const override { return "nng"; }

    void sink(const Endpoint& at, const Workload& work, const Ready& ready, Stopwatch& clock) override {
        Socket socket{nng_pull0_open, "pull0"};
        socket.set_int(NNG_OPT_RECVBUF, queue_messages);
        socket.listen(at);
        ready();
        const std::size_t total = work.warmup + work.count;
        for (std::size_t i = 0; i < work.warmup; ++i) {
            receive(socket, work.size, i, total);
        }
        clock.start();
        for (std::size_t i = work.warmup; i < total; ++i) {
            receive(socket, work.size, i, total);
        }
        clock.stop();
    }

    void source(const Endpoint& at, const Workload& work) override {
        std::vector<char> payload(work.size, 'x');
        HangUpWatch hang_up;
        Socket socket{nng_push0_open, "push0"};
        hang_up.watch(socket);
        socket.set_int(NNG_OPT_SENDBUF, queue_messages);
        socket.dial(at);
        const std::size_t total = work.warmup + work.count;
        for (std::size_t i = 0; i < total; ++i) {
            send(socket, payload, i, total);
        }
        hang_up.wait();
    }

    void echo(const Endpoint& at, const Workload& work, const Ready& ready) override {
        std::vector<char> reply(work.size, 'x');
        HangUpWatch hang_up;
        Socket socket{nng_rep0_open, "rep0"};
        hang_up.watch(socket);
        socket.listen(at);
        ready();
        const std::size_t total = work.warmup + work.count;
        for (std::size_t i = 0; i < total; ++i) {
            receive(socket, work.size, i, total);
            send(socket, reply, i, total);
        }
        hang_up.wait();
    }

    [[nodiscard]] std::vector<std::uint32_t> ping(const Endpoint& at, const Workload& work,
                                                  Stopwatch& clock) override {
        std::vector<char> request(work.size, 'x');
        std::vector<std::uint32_t> times;
        times.reserve(work.count);
        Socket socket{nng_req0_open, "req0"};
        socket.dial(at);
        const std::size_t total = work.warmup + work.count;
        for (std::size_t i = 0; i < work.warmup; ++i) {
            send(socket, request, i, total);
            receive(socket, work.size, i, total);
        }
        clock.start();
        for (std::size_t i = work.warmup; i < total; ++i) {
            const auto begin = std::chrono::steady_clock::now();
            send(socket, request, i, total);
            receive(socket, work.size, i, total);
            times.push_back(saturated_nanoseconds(std::chrono::steady_clock::now() - begin));
        }
        clock.stop();
        return times;
    }

    void greet(const Endpoint& at, const Ready& ready, const std::atomic<bool>& stop) override {
        Socket socket{nng_rep0_open, "rep0"};
        socket.set_ms(NNG_OPT_RECVTIMEO, 50);  // to look at `stop`
        socket.listen(at);
        ready();
        std::vector<char> reply(1, 'x');
        while (!stop.load(std::memory_order_relaxed)) {
            nng_msg* message = nullptr;
            const int rv = nng_recvmsg(socket.get(), &message, 0);
            if (rv == NNG_ETIMEDOUT) {
                continue;
            }
            if (rv != 0) {
                fail_nng("nng_recvmsg", rv);
            }
            nng_msg_free(message);
            // The peer may be gone already (it closes right after the reply): not an error.
            (void)nng_send(socket.get(), reply.data(), reply.size(), 0);
        }
    }

    void greet_many(const Endpoint& at, std::size_t count) override {
        std::vector<char> request(1, 'x');
        for (std::size_t i = 0; i < count; ++i) {
            Socket socket{nng_req0_open, "req0"};
            socket.dial(at);
            send(socket, request, i, count);
            receive(socket, 1, i, count);
        }
    }

    [[nodiscard]] std::string security() const override { return "TLSv1.2 (mbedTLS)"; }
};

}  // namespace

std::unique_ptr<Contender> make_nng() {
    return std::make_unique<NngContender>();
}

}  // namespace tofu::bench

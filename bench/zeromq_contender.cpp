// "zeromq": libzmq (4.3) through its C API. Throughput is PUSH (connects) to PULL (binds), latency
// REQ (connects) to REP (binds); default high-water marks, TCP_NODELAY as libzmq always sets it,
// and one context per Contender object (one I/O thread) shared by its sides.
// Copies: a sender copies each message from its preallocated buffer with zmq_send (as an
// application with data of its own does; zero-copy zmq_msg_init_data of one constant buffer would
// flatter it); a receiver takes each message with zmq_msg_recv into one reused zmq_msg_t and looks
// at it in place, which measured as fast as zmq_recv into a buffer for 64 B and faster for 60 KiB.
// Closing: the PUSH socket stays open until the contender dies, after its sink has everything.
// Every socket has ZMQ_LINGER of `linger_ms`, so zmq_close hands whatever is still queued to the
// I/O thread, which keeps delivering it (`echo`'s last reply); zmq_ctx_term in the destructor
// waits for that. The bound (rather than the infinite
// default) only keeps a dead peer from blocking the process's exit forever. Sends and receives
// fail after `stall_timeout_ms` without progress, so a vanished peer is an error, not a hang.
// A socket that bound an ipc address removes its file when it closes: libzmq 4.3 leaves it behind.
// Over `tls` ZeroMQ runs CURVE (libsodium): the binding side is the CURVE server, the connecting
// side a client that knows the server's public key (secrets.hpp). The handshake test connects a
// fresh REQ socket for each round.
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "contender.hpp"
#include "secrets.hpp"

namespace tofu::bench {
namespace {

constexpr int linger_ms = 30'000;
constexpr int stall_timeout_ms = 30'000;

/// Throws with `what` and the text of the current zmq_errno().
[[noreturn]] void fail_zmq(const std::string& what) {
    const int error = zmq_errno();
    fail("zeromq", what + ": " + zmq_strerror(error));
}

bool is_ipv6(const std::string& host) {
    return host.find(':') != std::string::npos;
}

std::string url(const Endpoint& at) {
    if (at.transport == Transport::uds) {
        return "ipc://" + at.path;
    }
    const std::string host = is_ipv6(at.host) ? "[" + at.host + "]" : at.host;
    return "tcp://" + host + ":" + std::to_string(at.port);
}

/// Owns a zmq socket.
class Socket {
public:
    Socket(void* context, int type, const Endpoint& at) : socket_(zmq_socket(context, type)) {
        if (socket_ == nullptr) {
            fail_zmq("zmq_socket");
        }
        try {
            set(ZMQ_LINGER, linger_ms, "ZMQ_LINGER");
            set(ZMQ_SNDTIMEO, stall_timeout_ms, "ZMQ_SNDTIMEO");
            set(ZMQ_RCVTIMEO, stall_timeout_ms, "ZMQ_RCVTIMEO");
            if (at.transport == Transport::tcp && is_ipv6(at.host)) {
                set(ZMQ_IPV6, 1, "ZMQ_IPV6");
            }
        } catch (...) {
            zmq_close(socket_);  // an open socket would block zmq_ctx_term forever
            throw;
        }
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    Socket(Socket&&) = delete;
    Socket& operator=(Socket&&) = delete;
    ~Socket() {
        zmq_close(socket_);
        if (!socket_file_.empty()) {
            ::unlink(socket_file_.c_str());  // libzmq 4.3 leaves the file of a bound ipc socket
        }
    }

    void bind(const Endpoint& at) {
        if (at.transport == Transport::tls) {
            set(ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER");
            set_key(ZMQ_CURVE_SECRETKEY, secrets().curve_server_secret, "ZMQ_CURVE_SECRETKEY");
        }
        const std::string address = url(at);
        if (zmq_bind(socket_, address.c_str()) != 0) {
            fail_zmq("zmq_bind " + address);
        }
        if (at.transport == Transport::uds) {
            socket_file_ = at.path;
        }
    }

    void connect(const Endpoint& at) {
        if (at.transport == Transport::tls) {
            set_key(ZMQ_CURVE_SERVERKEY, secrets().curve_server_public, "ZMQ_CURVE_SERVERKEY");
            set_key(ZMQ_CURVE_PUBLICKEY, secrets().curve_client_public, "ZMQ_CURVE_PUBLICKEY");
            set_key(ZMQ_CURVE_SECRETKEY, secrets().curve_client_secret, "ZMQ_CURVE_SECRETKEY");
        }
        const std::string address = url(at);
        if (zmq_connect(socket_, address.c_str()) != 0) {
            fail_zmq("zmq_connect " + address);
        }
    }

    [[nodiscard]] void* get() const noexcept { return socket_; }

    void set(int option, int value, const char* option_name) {
        if (zmq_setsockopt(socket_, option, &value, sizeof value) != 0) {
            fail_zmq(std::string{"zmq_setsockopt "} + option_name);
        }
    }

private:
    /// A CURVE key in Z85 (40 characters).
    void set_key(int option, const std::string& z85, const char* option_name) {
        if (zmq_setsockopt(socket_, option, z85.data(), z85.size()) != 0) {
            fail_zmq(std::string{"zmq_setsockopt "} + option_name);
        }
    }

    void* socket_;
    std::string socket_file_;  ///< the file of the ipc address bound, if any
};

/// One zmq_msg_t, reused for every receive.
class Message {
public:
    Message() noexcept { zmq_msg_init(&message_); }
    Message(const Message&) = delete;
    Message& operator=(const Message&) = delete;
    Message(Message&&) = delete;
    Message& operator=(Message&&) = delete;
    ~Message() { zmq_msg_close(&message_); }

    [[nodiscard]] zmq_msg_t* get() noexcept { return &message_; }

private:
    zmq_msg_t message_{};
};

std::string nth(std::size_t index, std::size_t total) {
    return "message " + std::to_string(index + 1) + " of " + std::to_string(total);
}

/// Receives message `index` (from 0) into `message`; it must be `size` bytes.
void receive(const Socket& socket, Message& message, std::size_t size, std::size_t index, std::size_t total) {
    int got = 0;
    while ((got = zmq_msg_recv(message.get(), socket.get(), 0)) < 0) {
        if (zmq_errno() == EAGAIN) {
            fail("zeromq", "no " + nth(index, total) + " within " + std::to_string(stall_timeout_ms) + " ms");
        }
        if (zmq_errno() != EINTR) {
            fail_zmq("zmq_msg_recv " + nth(index, total));
        }
    }
    if (static_cast<std::size_t>(got) != size) {
        fail("zeromq",
             nth(index, total) + " has " + std::to_string(got) + " bytes, expected " + std::to_string(size));
    }
}

/// Sends message `index` (from 0), a copy of `payload`.
void send(const Socket& socket, const std::vector<char>& payload, std::size_t index, std::size_t total) {
    while (zmq_send(socket.get(), payload.data(), payload.size(), 0) < 0) {
        if (zmq_errno() == EAGAIN) {
            fail("zeromq", "could not send " + nth(index, total) + " within " +
                               std::to_string(stall_timeout_ms) + " ms");
        }
        if (zmq_errno() != EINTR) {
            fail_zmq("zmq_send " + nth(index, total));
        }
    }
}

void check_size(const Workload& work) {
    if (work.size > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
        fail("zeromq", "message size " + std::to_string(work.size) + " is too large for zmq_msg_recv");
    }
}

class ZeromqContender final : public Contender {
public:
    ZeromqContender() : context_(zmq_ctx_new()) {
        if (context_ == nullptr) {
            fail_zmq("zmq_ctx_new");
        }
    }
    ZeromqContender(const ZeromqContender&) = delete;
    ZeromqContender& operator=(const ZeromqContender&) = delete;
    ZeromqContender(ZeromqContender&&) = delete;
    ZeromqContender& operator=(ZeromqContender&&) = delete;
    ~ZeromqContender() override {
        source_socket_.reset();  // the sink has everything by now (an open socket blocks zmq_ctx_term)
        while (zmq_ctx_term(context_) != 0 && zmq_errno() == EINTR) {
        }
    }

    [[nodiscard]] std::string_view name() const override { return "zeromq"; }

    void sink(const Endpoint& at, const Workload& work, const Ready& ready, Stopwatch& clock) override {
        check_size(work);
        Socket socket{context_, ZMQ_PULL, at};
        socket.bind(at);
        ready();
        Message message;
        const std::size_t total = work.warmup + work.count;
        for (std::size_t i = 0; i < work.warmup; ++i) {
            receive(socket, message, work.size, i, total);
        }
        clock.start();
        for (std::size_t i = work.warmup; i < total; ++i) {
            receive(socket, message, work.size, i, total);
        }
        clock.stop();
    }

    void source(const Endpoint& at, const Workload& work) override {
        check_size(work);
        const std::vector<char> payload(work.size, 'x');
        // Kept open until this object dies, after the sink has received everything: a PUSH socket
        // closed with messages still queued lost the last of them once (18 of 27,024 at 60 KiB, in
        // a CI run), lingering or not.
        source_socket_ = std::make_unique<Socket>(context_, ZMQ_PUSH, at);
        source_socket_->connect(at);
        const std::size_t total = work.warmup + work.count;
        for (std::size_t i = 0; i < total; ++i) {
            send(*source_socket_, payload, i, total);
        }
    }

    void echo(const Endpoint& at, const Workload& work, const Ready& ready) override {
        check_size(work);
        const std::vector<char> reply(work.size, 'x');
        Socket socket{context_, ZMQ_REP, at};
        socket.bind(at);
        ready();
        Message message;
        const std::size_t total = work.warmup + work.count;
        for (std::size_t i = 0; i < total; ++i) {
            receive(socket, message, work.size, i, total);
            send(socket, reply, i, total);
        }
    }

    [[nodiscard]] std::vector<std::uint32_t> ping(const Endpoint& at, const Workload& work,
                                                  Stopwatch& clock) override {
        check_size(work);
        const std::vector<char> request(work.size, 'x');
        std::vector<std::uint32_t> times;
        times.reserve(work.count);
        Socket socket{context_, ZMQ_REQ, at};
        socket.connect(at);
        Message message;
        const std::size_t total = work.warmup + work.count;
        for (std::size_t i = 0; i < work.warmup; ++i) {
            send(socket, request, i, total);
            receive(socket, message, work.size, i, total);
        }
        clock.start();
        for (std::size_t i = work.warmup; i < total; ++i) {
            const auto begin = std::chrono::steady_clock::now();
            send(socket, request, i, total);
            receive(socket, message, work.size, i, total);
            times.push_back(saturated_nanoseconds(std::chrono::steady_clock::now() - begin));
        }
        clock.stop();
        return times;
    }

    void greet(const Endpoint& at, const Ready& ready, const std::atomic<bool>& stop) override {
        Socket socket{context_, ZMQ_REP, at};
        socket.set(ZMQ_RCVTIMEO, 50, "ZMQ_RCVTIMEO");  // to look at `stop`
        socket.bind(at);
        ready();
        Message message;
        const std::vector<char> reply(1, 'x');
        while (!stop.load(std::memory_order_relaxed)) {
            if (zmq_msg_recv(message.get(), socket.get(), 0) >= 0) {
                send(socket, reply, 0, 1);
            } else if (zmq_errno() != EAGAIN && zmq_errno() != EINTR) {
                fail_zmq("zmq_msg_recv");
            }
        }
    }

    void greet_many(const Endpoint& at, std::size_t count) override {
        const std::vector<char> request(1, 'x');
        Message message;
        for (std::size_t i = 0; i < count; ++i) {
            Socket socket{context_, ZMQ_REQ, at};
            socket.set(ZMQ_LINGER, 0, "ZMQ_LINGER");  // nothing left to deliver after the reply
            socket.connect(at);
            send(socket, request, i, count);
            receive(socket, message, 1, i, count);
        }
    }

    [[nodiscard]] std::string security() const override { return "CURVE"; }

private:
    void* context_;
    std::unique_ptr<Socket> source_socket_;  ///< see `source`
};

}  // namespace

std::unique_ptr<Contender> make_zeromq() {
    return std::make_unique<ZeromqContender>();
}

}  // namespace tofu::bench

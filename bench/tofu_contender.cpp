// tofu in the benchmark: Signals one way on one channel, Request/Response for the ping-pong. In one
// process both sides share one engine (one Contender object); in two processes each has its own.
// Two variants measure what an event loop pays: "tofu-asio" takes every message through
// `tofu::asio::receiver` (an io_context on the side's own thread, sleeping in its reactor), and
// "tofu-spin0" through `wait_receive` with `receive_spin` zero, which never spins either: the fair
// baseline for the Asio path (docs/performance.md).
//
// Flow control is the pool: the sender takes its messages with `wait_get`, so it never has more
// than the pool's size in flight and never allocates. The pool is sized for a window of about
// `window_bytes` (within `min_window`..`max_window` messages): more in flight buys no speed, and
// large bodies then fall out of the caches (docs/performance.md).
#include <openssl/conf.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <tofu/tofu.hpp>

#if TOFU_BENCH_ASIO
#include <asio/io_context.hpp>

#include <tofu/asio.hpp>
#endif

#include "contender.hpp"
#include "receive.hpp"
#include "secrets.hpp"

namespace tofu::bench {
namespace {

constexpr auto patience = std::chrono::seconds{30};  // longest wait for any one message
constexpr std::size_t window_bytes = std::size_t{2} << 20U;
constexpr std::size_t min_window = 32;
constexpr std::size_t max_window = 4096;

/// How one side takes its group's messages: `wait_receive`, or (tofu-asio) an `async_receive` run
/// to completion on an io_context of the side's own thread.
class Inbox {
public:
    Inbox(ChannelGroup& group, bool through_asio) : group_{group} {
#if TOFU_BENCH_ASIO
        if (through_asio) {
            asio_ = std::make_unique<AsioPath>(group);
        }
#else
        (void)through_asio;
#endif
    }

    MessagePtr next() {
#if TOFU_BENCH_ASIO
        if (asio_) {
            return asio_->next();
        }
#endif
        return receive_within(group_, patience, "tofu");
    }

private:
#if TOFU_BENCH_ASIO
    struct AsioPath {
        explicit AsioPath(ChannelGroup& group) : receiver{io, group} {}

        MessagePtr next() {
            MessagePtr got;
            std::error_code error;
            receiver.async_receive([&](std::error_code ec, MessagePtr msg) {
                error = ec;
                got = std::move(msg);
            });
            io.restart();
            io.run_for(patience);  // returns once the handler ran: nothing else is queued
            if (error || !got) {
                fail("tofu-asio", error ? error.message()
                                        : "nothing arrived in " + std::to_string(patience.count()) + " s");
            }
            return got;
        }

        ::asio::io_context io{1};
        tofu::asio::receiver receiver;
    };
    std::unique_ptr<AsioPath> asio_;
#endif
    ChannelGroup& group_;
};

bool is_report(const Message& msg, AmpeStatus status) {
    return msg.is_from_engine() && msg.bhdr.status == status;
}

/// Receives until a message of `op` arrives; engine reports other than `pool_empty` are failures.
MessagePtr next_of(Inbox& inbox, OpCode op, std::string_view during) {
    for (;;) {
        MessagePtr msg = inbox.next();
        if (msg->bhdr.proto.op_code == op && msg->bhdr.status == AmpeStatus::success) {
            return msg;
        }
        if (msg->is_from_engine() && !is_report(*msg, AmpeStatus::pool_empty)) {
            fail("tofu", std::string{during} + ": " + std::string{status_name(msg->bhdr.status)} + " (" +
                             std::string{op_code_name(msg->bhdr.proto.op_code)} + ")");
        }
    }
}

/// Fails with `what` and the engine's report that says why the channel closed, if one comes.
[[noreturn]] void fail_with_report(ChannelGroup& group, const std::string& what) {
    for (MessagePtr msg = group.wait_receive(std::chrono::seconds{2}); msg;
         msg = group.wait_receive(std::chrono::seconds{2})) {
        if (msg->is_from_engine() && !is_report(*msg, AmpeStatus::pool_empty)) {
            fail("tofu", what + "; the engine said " + std::string{status_name(msg->bhdr.status)} + " (" +
                             std::string{msg->thdrs.find(header::detail).value_or("no detail")} + ")");
        }
    }
    fail("tofu", what);
}

void check_size(const Message& msg, const Workload& work) {
    if (msg.body.size() != work.size) {
        fail("tofu",
             "received " + std::to_string(msg.body.size()) + " bytes, expected " + std::to_string(work.size));
    }
}

/// How the sides of a TofuContender receive, and (tls12) which TLS they offer.
enum class Flavour : std::uint8_t {
    plain,    ///< "tofu": wait_receive, the default receive_spin
    no_spin,  ///< "tofu-spin0": wait_receive, receive_spin zero
    asio,     ///< "tofu-asio": tofu::asio::receiver
    tls12,    ///< "tofu-tls1.2": as "tofu", with TLS 1.2 at most
};

/// Caps (or uncaps) the TLS version of every OpenSSL context made from now on in this process.
/// tofu has a minimum version only (TLS 1.3 by default); the row beside NNG, whose mbedTLS speaks
/// 1.2 only, needs tofu at 1.2 on both ends. OpenSSL applies its configuration's
/// `system_default` section to every new SSL_CTX, so the benchmark reloads a configuration with
/// `MaxProtocol = TLSv1.2` for that row and one without it for the others. The rows run one after
/// another, and each engine makes its contexts when its listener opens or its connect starts.
void cap_tls_at_1_2(bool cap) {
    static std::mutex mutex;     // the two sides of a trial come here on two threads
    static bool capped = false;  // this process's state (the sides of one trial agree)
    const std::lock_guard lock{mutex};
    if (cap == capped) {
        return;
    }
    // First the default configuration, so OpenSSL's own first load comes before ours, not after.
    (void)OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, nullptr);
    const std::string path = secrets().dir + (cap ? "/openssl-tls12.cnf" : "/openssl-default.cnf");
    std::ofstream{path} << "openssl_conf = conf\n[conf]\nssl_conf = ssl\n[ssl]\nsystem_default = sys\n[sys]\n"
                        << (cap ? "MaxProtocol = TLSv1.2\n" : "MinProtocol = TLSv1.2\n");
    if (CONF_modules_load_file(path.c_str(), nullptr, 0) <= 0) {
        fail("tofu", "cannot load the OpenSSL configuration " + path);
    }
    capped = cap;
}

class TofuContender final : public Contender {
public:
    explicit TofuContender(Flavour flavour) : flavour_{flavour}, through_asio_{flavour == Flavour::asio} {}

    [[nodiscard]] std::string_view name() const override {
        switch (flavour_) {
            case Flavour::no_spin: return "tofu-spin0";
            case Flavour::asio: return "tofu-asio";
            case Flavour::tls12: return "tofu-tls1.2";
            case Flavour::plain: break;
        }
        return "tofu";
    }

    void sink(const Endpoint& at, const Workload& work, const Ready& ready, Stopwatch& clock) override {
        Ampe& ampe = engine(work);
        const ChannelGroupPtr group = ampe.create();
        Inbox inbox{*group, through_asio_};
        listen(ampe, *group, inbox, at);
        ready();
        const std::size_t total = work.warmup + work.count;
        std::size_t received = 0;
        if (work.warmup == 0) {
            clock.start();
        }
        while (received < total) {
            MessagePtr msg = inbox.next();
            const OpCode op = msg->bhdr.proto.op_code;
            if (op == OpCode::signal && !msg->is_from_engine()) {
                check_size(*msg, work);
                if (++received == work.warmup) {
                    clock.start();
                }
            } else if (op == OpCode::hello_request && !msg->is_from_engine()) {
                note_security(*msg);
                msg->bhdr.proto.op_code = OpCode::hello_response;
                group->post(msg);
            } else if (!is_report(*msg, AmpeStatus::pool_empty)) {
                fail("tofu", "sink: " + std::string{status_name(msg->bhdr.status)} + " (" +
                                 std::string{msg->thdrs.find(header::reason).value_or("no reason")} + ": " +
                                 std::string{msg->thdrs.find(header::detail).value_or("no detail")} +
                                 ") after " + std::to_string(received) + " of " + std::to_string(total) +
                                 " messages");
            }
        }
        clock.stop();
        answer_bye(*group, inbox);
    }

    void source(const Endpoint& at, const Workload& work) override {
        Ampe& ampe = engine(work);
        const ChannelGroupPtr group = ampe.create();
        Inbox inbox{*group, through_asio_};
        const std::uint16_t channel = connect(ampe, *group, at);
        const std::vector<std::byte> payload(work.size, std::byte{'x'});
        for (std::size_t i = 0; i < work.warmup + work.count; ++i) {
            MessagePtr msg = ampe.wait_get(patience);
            if (!msg) {
                fail("tofu", "source: no message came back to the pool");
            }
            msg->bhdr.proto.op_code = OpCode::signal;
            msg->bhdr.channel_number = channel;
            msg->body.copy(payload);
            std::error_code ec;
            (void)group->post(msg, ec);
            if (ec) {
                fail_with_report(*group, "source: message " + std::to_string(i) + ": " + ec.message());
            }
        }
        say_bye(ampe, *group, inbox, channel);
    }

    void echo(const Endpoint& at, const Workload& work, const Ready& ready) override {
        Ampe& ampe = engine(work);
        const ChannelGroupPtr group = ampe.create();
        Inbox inbox{*group, through_asio_};
        listen(ampe, *group, inbox, at);
        ready();
        MessagePtr hello = next_of(inbox, OpCode::hello_request, "echo: waiting for the client");
        note_security(*hello);
        hello->bhdr.proto.op_code = OpCode::hello_response;
        group->post(hello);
        for (std::size_t answered = 0; answered < work.warmup + work.count; ++answered) {
            MessagePtr request = next_of(inbox, OpCode::request, "echo");
            check_size(*request, work);
            request->bhdr.proto.op_code = OpCode::response;  // same channel, same id, same body
            group->post(request);
        }
        answer_bye(*group, inbox);
    }

    std::vector<std::uint32_t> ping(const Endpoint& at, const Workload& work, Stopwatch& clock) override {
        Ampe& ampe = engine(work);
        const ChannelGroupPtr group = ampe.create();
        Inbox inbox{*group, through_asio_};
        const std::uint16_t channel = connect(ampe, *group, at);
        note_security(*next_of(inbox, OpCode::hello_response, "ping: connecting"));
        std::vector<std::uint32_t> rtt_ns;
        rtt_ns.reserve(work.count);
        MessagePtr msg = ampe.get(AllocationStrategy::always);
        msg->bhdr.channel_number = channel;
        msg->body.copy(std::vector<std::byte>(work.size, std::byte{'x'}));
        for (std::size_t i = 0; i < work.warmup + work.count; ++i) {
            if (i == work.warmup) {
                clock.start();
            }
            msg->bhdr.proto.op_code = OpCode::request;
            msg->bhdr.message_id = 0;  // a new id for every request
            const auto sent = std::chrono::steady_clock::now();
            group->post(msg);
            msg = next_of(inbox, OpCode::response, "ping");
            const auto took = std::chrono::steady_clock::now() - sent;
            check_size(*msg, work);
            if (i >= work.warmup) {
                const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(took).count();
                rtt_ns.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(ns, UINT32_MAX)));
            }
        }
        clock.stop();
        msg.reset();
        say_bye(ampe, *group, inbox, channel);
        return rtt_ns;
    }

    void greet(const Endpoint& at, const Ready& ready, const std::atomic<bool>& stop) override {
        Ampe& ampe = engine(Workload{});
        const ChannelGroupPtr group = ampe.create();
        Inbox inbox{*group, false};
        listen(ampe, *group, inbox, at);
        ready();
        while (!stop.load(std::memory_order_relaxed)) {
            MessagePtr msg = group->wait_receive(std::chrono::milliseconds{50});
            if (!msg || msg->is_from_engine()) {
                continue;  // the closes' reports, a pool running low: nothing to answer
            }
            if (msg->bhdr.proto.op_code == OpCode::hello_request) {
                msg->bhdr.proto.op_code = OpCode::hello_response;
                group->post(msg);
            } else if (msg->bhdr.proto.op_code == OpCode::bye_request) {
                msg->bhdr.proto.op_code = OpCode::bye_response;
                group->post(msg);
            }
        }
    }

    void greet_many(const Endpoint& at, std::size_t count) override {
        Ampe& ampe = engine(Workload{});
        const ChannelGroupPtr group = ampe.create();
        std::size_t closed = 0;
        const auto next = [&](std::string_view during) {
            MessagePtr msg = receive_within(*group, patience, "tofu");
            if (is_report(*msg, AmpeStatus::channel_closed)) {
                ++closed;
            } else if (msg->is_from_engine() && !is_report(*msg, AmpeStatus::pool_empty)) {
                fail("tofu", std::string{during} + ": " + std::string{status_name(msg->bhdr.status)} + " (" +
                                 std::string{op_code_name(msg->bhdr.proto.op_code)} + ")");
            }
            return msg;
        };
        for (std::size_t i = 0; i < count; ++i) {
            const std::uint16_t channel = connect(ampe, *group, at);
            for (;;) {
                MessagePtr msg = next("handshake");
                if (msg->bhdr.proto.op_code == OpCode::hello_response && !msg->is_from_engine()) {
                    note_security(*msg);
                    break;
                }
            }
            // A graceful close (close_notify and all), not waited for: the next connect starts now.
            MessagePtr bye = ampe.get(AllocationStrategy::always);
            bye->bhdr.proto.op_code = OpCode::bye_request;
            bye->bhdr.channel_number = channel;
            group->post(bye);
        }
        while (closed < count) {
            (void)next("closing");
        }
    }

    [[nodiscard]] std::string security() const override {
        const std::lock_guard lock{security_mutex_};
        return security_;
    }

private:
    /// Keeps what the engine says the TLS connection of `hello` agreed, and checks the version.
    void note_security(const Message& hello) {
        const std::optional<std::string_view> agreed = hello.thdrs.find(header::tls);
        if (!agreed) {
            return;
        }
        const std::string_view expected = flavour_ == Flavour::tls12 ? "TLSv1.2" : "TLSv1.3";
        if (!agreed->starts_with(expected)) {
            fail(name(), "agreed " + std::string{*agreed} + ", expected " + std::string{expected});
        }
        const std::lock_guard lock{security_mutex_};
        security_ = *agreed;
    }

    /// The engine, made by the first side to run, with a pool sized for its message size.
    Ampe& engine(const Workload& work) {
        std::call_once(made_, [&] {
            const auto window = static_cast<std::uint32_t>(
                std::clamp(window_bytes / std::max<std::size_t>(work.size, 1), min_window, max_window));
            Options options{.initial_pool_msgs = window, .max_pool_msgs = window};
            if (flavour_ == Flavour::no_spin || flavour_ == Flavour::asio) {
                options.receive_spin = std::chrono::microseconds::zero();
            }
            engine_ = Reactor::create(options);
        });
        return *engine_;
    }

    void listen(Ampe& ampe, ChannelGroup& group, Inbox& inbox, const Endpoint& at) const {
        MessagePtr welcome = ampe.get(AllocationStrategy::always);
        if (at.transport == Transport::tcp) {
            TcpServerAddress{at.host, at.port}.format(*welcome);
        } else if (at.transport == Transport::tls) {
            cap_tls_at_1_2(flavour_ == Flavour::tls12);  // before the listener makes its context
            TlsServerAddress{at.host, at.port}.format(*welcome);
            welcome->thdrs.append(header::tls_cert, secrets().cert);
            welcome->thdrs.append(header::tls_key, secrets().key);
            if (flavour_ == Flavour::tls12) {
                welcome->thdrs.append(header::tls_min_version, "1.2");
            }
        } else {
            UdsServerAddress{at.path}.format(*welcome);
        }
        group.post(welcome);
        (void)next_of(inbox, OpCode::welcome_response, "listening");
    }

    std::uint16_t connect(Ampe& ampe, ChannelGroup& group, const Endpoint& at) const {
        MessagePtr hello = ampe.get(AllocationStrategy::always);
        if (at.transport == Transport::tcp) {
            TcpClientAddress{at.host, at.port}.format(*hello);
        } else if (at.transport == Transport::tls) {
            // The client verifies the server's certificate (IP SAN 127.0.0.1) against the CA.
            cap_tls_at_1_2(flavour_ == Flavour::tls12);
            TlsClientAddress{at.host, at.port}.format(*hello);
            hello->thdrs.append(header::tls_ca, secrets().ca);
            if (flavour_ == Flavour::tls12) {
                hello->thdrs.append(header::tls_min_version, "1.2");
            }
        } else {
            UdsClientAddress{at.path}.format(*hello);
        }
        return group.post(hello).channel_number;
    }

    /// Closes `channel` gracefully: everything posted before is delivered first.
    static void say_bye(Ampe& ampe, ChannelGroup& group, Inbox& inbox, std::uint16_t channel) {
        MessagePtr bye = ampe.get(AllocationStrategy::always);
        bye->bhdr.proto.op_code = OpCode::bye_request;
        bye->bhdr.channel_number = channel;
        group.post(bye);
        wait_closed(inbox);
    }

    /// Answers the peer's ByeRequest and waits until the channel is closed.
    static void answer_bye(ChannelGroup& group, Inbox& inbox) {
        MessagePtr bye = next_of(inbox, OpCode::bye_request, "waiting for the peer's bye");
        bye->bhdr.proto.op_code = OpCode::bye_response;
        group.post(bye);
        wait_closed(inbox);
    }

    static void wait_closed(Inbox& inbox) {
        for (;;) {
            const MessagePtr msg = inbox.next();
            if (is_report(*msg, AmpeStatus::channel_closed)) {
                return;
            }
        }
    }

    const Flavour flavour_;
    const bool through_asio_;
    std::once_flag made_;
    std::unique_ptr<Reactor> engine_;
    mutable std::mutex security_mutex_;
    std::string security_;  ///< see security()
};

}  // namespace

std::unique_ptr<Contender> make_tofu() {
    return std::make_unique<TofuContender>(Flavour::plain);
}

std::unique_ptr<Contender> make_tofu_spin0() {
    return std::make_unique<TofuContender>(Flavour::no_spin);
}

std::unique_ptr<Contender> make_tofu_tls12() {
    return std::make_unique<TofuContender>(Flavour::tls12);
}

std::unique_ptr<Contender> make_tofu_asio() {
    return std::make_unique<TofuContender>(Flavour::asio);
}

}  // namespace tofu::bench

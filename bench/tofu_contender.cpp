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
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
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

void check_size(const Message& msg, const Workload& work) {
    if (msg.body.size() != work.size) {
        fail("tofu",
             "received " + std::to_string(msg.body.size()) + " bytes, expected " + std::to_string(work.size));
    }
}

/// How the sides of a TofuContender receive.
enum class Flavour : std::uint8_t {
    plain,    ///< "tofu": wait_receive, the default receive_spin
    no_spin,  ///< "tofu-spin0": wait_receive, receive_spin zero
    asio,     ///< "tofu-asio": tofu::asio::receiver
};

class TofuContender final : public Contender {
public:
    explicit TofuContender(Flavour flavour) : flavour_{flavour}, through_asio_{flavour == Flavour::asio} {}

    [[nodiscard]] std::string_view name() const override {
        switch (flavour_) {
            case Flavour::no_spin: return "tofu-spin0";
            case Flavour::asio: return "tofu-asio";
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
                msg->bhdr.proto.op_code = OpCode::hello_response;
                group->post(msg);
            } else if (!is_report(*msg, AmpeStatus::pool_empty)) {
                fail("tofu", "sink: " + std::string{status_name(msg->bhdr.status)} + " after " +
                                 std::to_string(received) + " of " + std::to_string(total) + " messages");
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
            group->post(msg);
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
        (void)next_of(inbox, OpCode::hello_response, "ping: connecting");
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

private:
    /// The engine, made by the first side to run, with a pool sized for its message size.
    Ampe& engine(const Workload& work) {
        std::call_once(made_, [&] {
            const auto window = static_cast<std::uint32_t>(
                std::clamp(window_bytes / std::max<std::size_t>(work.size, 1), min_window, max_window));
            Options options{.initial_pool_msgs = window, .max_pool_msgs = window};
            if (flavour_ != Flavour::plain) {
                options.receive_spin = std::chrono::microseconds::zero();
            }
            engine_ = Reactor::create(options);
        });
        return *engine_;
    }

    static void listen(Ampe& ampe, ChannelGroup& group, Inbox& inbox, const Endpoint& at) {
        MessagePtr welcome = ampe.get(AllocationStrategy::always);
        if (at.transport == Transport::tcp) {
            TcpServerAddress{at.host, at.port}.format(*welcome);
        } else {
            UdsServerAddress{at.path}.format(*welcome);
        }
        group.post(welcome);
        (void)next_of(inbox, OpCode::welcome_response, "listening");
    }

    static std::uint16_t connect(Ampe& ampe, ChannelGroup& group, const Endpoint& at) {
        MessagePtr hello = ampe.get(AllocationStrategy::always);
        if (at.transport == Transport::tcp) {
            TcpClientAddress{at.host, at.port}.format(*hello);
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
};

}  // namespace

std::unique_ptr<Contender> make_tofu() {
    return std::make_unique<TofuContender>(Flavour::plain);
}

std::unique_ptr<Contender> make_tofu_spin0() {
    return std::make_unique<TofuContender>(Flavour::no_spin);
}

std::unique_ptr<Contender> make_tofu_asio() {
    return std::make_unique<TofuContender>(Flavour::asio);
}

}  // namespace tofu::bench

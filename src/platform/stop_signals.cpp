// tofu::StopSignals (include/tofu/stop_signals.hpp): the part every OS shares. One per process,
// because signal handlers are; a thread of its own waits on the OS half
// (platform/stop_signal_source.hpp) and runs the callback, never a signal handler.
#include <tofu/stop_signals.hpp>

#include <atomic>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/status.hpp>

#include "platform/stop_signal_source.hpp"

namespace tofu {
namespace {

std::atomic<bool> one_alive{false};

void wake_with_signal(ChannelGroup& group, std::string_view which) {
    MessagePtr msg = Message::create();
    msg->bhdr.proto.op_code = OpCode::signal;
    msg->thdrs.append(header::signal, which);
    group.update_receiver(std::move(msg));
}

}  // namespace

namespace detail {

/// The process's one `StopSignals`: taken for the object's lifetime, or the constructor throws.
class StopSignalsClaim {
public:
    StopSignalsClaim() {
        if (one_alive.exchange(true)) {
            throw Error{AmpeStatus::not_allowed,
                        "tofu::StopSignals: another one is alive in this process (signal handlers "
                        "are process-wide: make one and share it)"};
        }
    }
    StopSignalsClaim(const StopSignalsClaim&) = delete;
    StopSignalsClaim& operator=(const StopSignalsClaim&) = delete;
    StopSignalsClaim(StopSignalsClaim&&) = delete;
    StopSignalsClaim& operator=(StopSignalsClaim&&) = delete;
    ~StopSignalsClaim() { one_alive.store(false); }
};

}  // namespace detail

std::string_view stop_signal_of(const Message& msg) noexcept {
    if (msg.bhdr.status != AmpeStatus::receiver_update) {
        return {};
    }
    return msg.thdrs.find(header::signal).value_or(std::string_view{});
}

// Members in order of need: the claim before the handlers, the thread last (it uses the rest).
struct StopSignals::State {
    explicit State(Callback callback) : on_signal{std::move(callback)}, thread{[this] { run(); }} {}
    State(const State&) = delete;
    State& operator=(const State&) = delete;
    State(State&&) = delete;
    State& operator=(State&&) = delete;
    ~State() {
        source.close();  // `run` returns after the signals already read
        thread.join();
    }

    void run() {
        for (;;) {
            const std::string_view name = source.wait();
            if (name.empty()) {
                return;
            }
            received.fetch_add(1);
            try {
                on_signal(name);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "tofu::StopSignals: %s not handled: %s\n", std::string{name}.c_str(),
                             e.what());
            }
        }
    }

    detail::StopSignalsClaim claim;
    Callback on_signal;
    detail::StopSignalSource source;
    std::atomic<unsigned> received{0};
    std::thread thread;
};

StopSignals::StopSignals(ChannelGroup& group)
    : StopSignals{[&group](std::string_view which) { wake_with_signal(group, which); }} {}

StopSignals::StopSignals(Callback on_signal) : state_{std::make_unique<State>(std::move(on_signal))} {}

StopSignals::~StopSignals() = default;

unsigned StopSignals::received() const noexcept {
    return state_->received.load();
}

}  // namespace tofu

// The program stop_signals_test.cpp signals: makes an engine and a tofu::StopSignals in the order
// its argument names (`engine-first`: the group form; `helper-first`: the callback form, before
// any engine thread exists; `helper-only`: as helper-first, with the signals blocked in every
// other thread), prints `ready`, and waits in wait_receive. On the stop wake-up it
// prints `woken by ~signal:<NAME>, <N> received` and exits 0; anything else exits non-zero.
#if !defined(_WIN32)
#include <pthread.h>
#include <csignal>
#endif

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <tofu/tofu.hpp>

namespace {

constexpr std::chrono::seconds give_up_after{120};  // a lost signal ends the child, not the run

int wait_for_stop(tofu::ChannelGroup& group, const tofu::StopSignals& stop) {
    std::puts("ready");
    std::fflush(stdout);
    const tofu::MessagePtr msg = group.wait_receive(give_up_after);
    if (!msg) {
        std::puts("no wake-up");
        return 3;
    }
    const std::string_view name = tofu::stop_signal_of(*msg);
    if (name.empty()) {
        std::puts("woken by something else");
        return 1;
    }
    std::printf("woken by %s:%s, %u received\n", std::string{tofu::header::signal}.c_str(),
                std::string{name}.c_str(), stop.received());
    return 0;
}

int engine_first() {
    const std::unique_ptr<tofu::Reactor> engine = tofu::Reactor::create(tofu::Options{});
    const tofu::ChannelGroupPtr group = engine->create();
    const tofu::StopSignals stop{*group};
    return wait_for_stop(*group, stop);
}

/// Blocks the stop signals in the calling thread and the threads it starts from now on.
void block_stop_signals_here() {
#if !defined(_WIN32)
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
#endif
}

/// `only_helper`: the helper's thread is the only one that may take the signals, the others
/// block them (as a program that waits for them elsewhere does), so the kernel hands them to the
/// helper itself.
int helper_first(bool only_helper) {
    std::atomic<tofu::ChannelGroup*> target{nullptr};
    const tofu::StopSignals stop{[&target](std::string_view which) {
        tofu::MessagePtr msg = tofu::Message::create();
        msg->thdrs.append(tofu::header::signal, which);
        if (tofu::ChannelGroup* group = target.load(); group != nullptr) {
            group->update_receiver(std::move(msg));
        }
    }};
    if (only_helper) {
        block_stop_signals_here();  // this thread, and the engine's it starts below
    }
    const std::unique_ptr<tofu::Reactor> engine = tofu::Reactor::create(tofu::Options{});
    const tofu::ChannelGroupPtr group = engine->create();
    target.store(group.get());
    const int code = wait_for_stop(*group, stop);
    target.store(nullptr);  // `stop` outlives the group
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string_view order = argc == 2 ? argv[1] : "";
    try {
        if (order == "engine-first") {
            return engine_first();
        }
        if (order == "helper-first" || order == "helper-only") {
            return helper_first(order == "helper-only");
        }
        std::fputs("usage: stop_signals_child engine-first|helper-first|helper-only\n", stderr);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "stop_signals_child: %s\n", e.what());
        return 1;
    }
}

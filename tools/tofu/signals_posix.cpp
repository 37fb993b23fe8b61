#include "signals.hpp"

#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <functional>
#include <system_error>
#include <utility>

namespace tofu::cli {
namespace {

sigset_t stop_signal_set() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
}

}  // namespace

void block_stop_signals() {
    const sigset_t set = stop_signal_set();
    if (const int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0) {
        throw std::system_error{rc, std::generic_category(), "pthread_sigmask"};
    }
}

StopSignals::StopSignals(std::function<void()> on_signal)
    : on_signal_{std::move(on_signal)}, thread_{[this] { wait_loop(); }} {}

StopSignals::~StopSignals() {
    quitting_.store(true);
    // SIGTERM is blocked in that thread: its own sigwait() takes it, then sees `quitting_`.
    pthread_kill(thread_.native_handle(), SIGTERM);  // NOLINT(bugprone-bad-signal-to-kill-thread)
    thread_.join();
}

void StopSignals::wait_loop() {
    const sigset_t set = stop_signal_set();
    for (;;) {
        int signal_number = 0;
        if (sigwait(&set, &signal_number) != 0 || quitting_.load()) {
            return;
        }
        received_.fetch_add(1);
        try {
            on_signal_();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "tofu: cannot handle signal %d: %s\n", signal_number, e.what());
        }
    }
}

}  // namespace tofu::cli

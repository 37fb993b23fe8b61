// SIGINT / SIGTERM without a signal handler: the signals are blocked in every thread and one small
// thread takes them with sigwait(), so the work they trigger runs as ordinary code
// (signals_posix.cpp). On Windows, Ctrl+C, Ctrl+Break and closing the console play their part
// (signals_windows.cpp).
#pragma once

#include <atomic>
#include <functional>
#include <thread>

namespace tofu::cli {

/// Blocks SIGINT and SIGTERM in the calling thread. Call it before starting any thread (the
/// engine's included): threads inherit the mask, so the signals then reach only `StopSignals`.
void block_stop_signals();

/// A thread that waits for SIGINT or SIGTERM and calls `on_signal` (on that thread) for each one.
/// `block_stop_signals()` must have run first.
class StopSignals {
public:
    /// @param on_signal must be safe to call from another thread, e.g. `group->update_receiver()`.
    explicit StopSignals(std::function<void()> on_signal);
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;
    StopSignals(StopSignals&&) = delete;
    StopSignals& operator=(StopSignals&&) = delete;
    /// Ends the thread; no `on_signal` call runs after it returns.
    ~StopSignals();

    /// How many stop signals arrived so far.
    [[nodiscard]] unsigned received() const noexcept { return received_.load(); }

private:
    void wait_loop();

    std::function<void()> on_signal_;
    std::atomic<unsigned> received_{0};
    std::atomic<bool> quitting_{false};
    std::thread thread_;
};

}  // namespace tofu::cli

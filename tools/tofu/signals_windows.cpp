// Windows: Ctrl+C, Ctrl+Break and closing the console stand for SIGINT and SIGTERM. The console
// calls its handler on a thread of its own; the handler only counts the event and wakes the
// `StopSignals` thread, so `on_signal` runs there, as on POSIX.
#include "signals.hpp"

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN  // no <winsock.h>, which clashes with the <winsock2.h> of other files
#endif
#include <windows.h>

#include <condition_variable>
#include <cstdio>
#include <exception>
#include <functional>
#include <mutex>
#include <system_error>
#include <utility>

namespace tofu::cli {
namespace {

/// Console events not yet taken by a `StopSignals` thread (like signals pending while blocked).
struct PendingEvents {
    std::mutex mutex;
    std::condition_variable arrived;
    unsigned count = 0;
};

PendingEvents& pending() {
    static PendingEvents events;
    return events;
}

BOOL WINAPI on_console_event(DWORD event) {
    if (event != CTRL_C_EVENT && event != CTRL_BREAK_EVENT && event != CTRL_CLOSE_EVENT) {
        return FALSE;
    }
    PendingEvents& p = pending();
    {
        const std::lock_guard lock{p.mutex};
        ++p.count;
    }
    p.arrived.notify_all();
    return TRUE;
}

}  // namespace

void block_stop_signals() {
    if (::SetConsoleCtrlHandler(on_console_event, TRUE) == 0) {
        throw std::system_error{static_cast<int>(::GetLastError()), std::system_category(),
                                "SetConsoleCtrlHandler"};
    }
}

StopSignals::StopSignals(std::function<void()> on_signal)
    : on_signal_{std::move(on_signal)}, thread_{[this] { wait_loop(); }} {}

StopSignals::~StopSignals() {
    PendingEvents& p = pending();
    {
        const std::lock_guard lock{p.mutex};  // the waiting thread cannot miss it
        quitting_.store(true);
    }
    p.arrived.notify_all();
    thread_.join();
}

void StopSignals::wait_loop() {
    PendingEvents& p = pending();
    for (;;) {
        {
            std::unique_lock lock{p.mutex};
            p.arrived.wait(lock, [&] { return p.count > 0 || quitting_.load(); });
            if (quitting_.load()) {
                return;
            }
            --p.count;
        }
        received_.fetch_add(1);
        try {
            on_signal_();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "tofu: cannot handle a console stop event: %s\n", e.what());
        }
    }
}

}  // namespace tofu::cli

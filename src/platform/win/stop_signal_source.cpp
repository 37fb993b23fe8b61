// platform/stop_signal_source.hpp on Windows: a console control handler takes Ctrl+C, Ctrl+Break
// and closing the console. Windows calls it on a thread of its own; it only queues the event for
// the helper's thread, so the application's code runs there, as on POSIX.
#include "platform/stop_signal_source.hpp"

#include <windows.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <tofu/status.hpp>

#include "net/socket.hpp"

namespace tofu::detail {
namespace {

/// Console events not yet taken by the helper's thread. Process-wide, as the handler is.
struct PendingEvents {
    std::mutex mutex;
    std::condition_variable arrived;
    std::deque<DWORD> events;
    bool closed = true;  ///< no source alive: the handler lets the next one (or the default) act
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
        if (p.closed) {
            return FALSE;
        }
        p.events.push_back(event);
    }
    p.arrived.notify_all();
    return TRUE;
}

std::string_view event_name(DWORD event) noexcept {
    switch (event) {
        case CTRL_C_EVENT: return "CTRL_C";
        case CTRL_BREAK_EVENT: return "CTRL_BREAK";
        default: return "CTRL_CLOSE";
    }
}

}  // namespace

struct StopSignalSource::Native {};

StopSignalSource::StopSignalSource() : native_{std::make_unique<Native>()} {
    PendingEvents& p = pending();
    {
        const std::lock_guard lock{p.mutex};
        p.events.clear();
        p.closed = false;
    }
    if (::SetConsoleCtrlHandler(on_console_event, TRUE) == 0) {
        const auto error = static_cast<int>(::GetLastError());
        close();
        throw Error{AmpeStatus::notification_failed,
                    "tofu::StopSignals: SetConsoleCtrlHandler: " + os_error_text(error)};
    }
}

StopSignalSource::~StopSignalSource() {
    close();
}

std::string_view StopSignalSource::wait() {
    PendingEvents& p = pending();
    std::unique_lock lock{p.mutex};
    p.arrived.wait(lock, [&p] { return !p.events.empty() || p.closed; });
    if (p.closed) {
        return {};
    }
    const DWORD event = p.events.front();
    p.events.pop_front();
    return event_name(event);
}

void StopSignalSource::close() noexcept {
    ::SetConsoleCtrlHandler(on_console_event, FALSE);
    PendingEvents& p = pending();
    {
        const std::lock_guard lock{p.mutex};
        p.closed = true;
        p.events.clear();
    }
    p.arrived.notify_all();
}

}  // namespace tofu::detail

// The operating system's half of tofu::StopSignals (include/tofu/stop_signals.hpp): catches the
// stop signals and hands them, one at a time, to the helper's thread. One file per OS under
// platform/: signal handlers and a self-pipe on POSIX, a console control handler on Windows.
// Process-wide state: stop_signals.cpp makes sure at most one source is alive.
#pragma once

#include <memory>
#include <string_view>

namespace tofu::detail {

class StopSignalSource {
public:
    /// Installs the handlers. Throws `Error(notification_failed)` when the OS refuses.
    StopSignalSource();
    /// Restores the previous handlers (as `close`) and frees what the source holds.
    ~StopSignalSource();
    StopSignalSource(const StopSignalSource&) = delete;
    StopSignalSource& operator=(const StopSignalSource&) = delete;
    StopSignalSource(StopSignalSource&&) = delete;
    StopSignalSource& operator=(StopSignalSource&&) = delete;

    /// Blocks until a stop signal arrives and returns its name (`SIGINT`, `CTRL_C`...); returns
    /// an empty name once `close` ran. One thread at a time.
    [[nodiscard]] std::string_view wait();

    /// Restores the previous handlers and makes `wait` return empty, now or at its next call.
    /// Safe from another thread than the one in `wait`; idempotent.
    void close() noexcept;

private:
    struct Native;
    std::unique_ptr<Native> native_;
};

}  // namespace tofu::detail

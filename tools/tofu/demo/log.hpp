// The demo's conversation log: one line per event, whole lines even from many threads.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

namespace tofu::cli::demo {

class Log {
public:
    explicit Log(std::string transport) : transport_{std::move(transport)} {}

    /// Prints `[transport] who → whom  what`.
    void say(const std::string& from, const std::string& to, const std::string& what) {
        const std::lock_guard lock{mutex_};
        std::printf("  [%s] %-12s -> %-12s %s\n", transport_.c_str(), from.c_str(), to.c_str(), what.c_str());
        std::fflush(stdout);
    }

    /// Prints a problem; the demo fails when there was one.
    void fail(const std::string& what) {
        const std::lock_guard lock{mutex_};
        std::printf("  [%s] FAIL: %s\n", transport_.c_str(), what.c_str());
        std::fflush(stdout);
        failures_ += 1;
    }

    [[nodiscard]] int failures() {
        const std::lock_guard lock{mutex_};
        return failures_;
    }

private:
    std::string transport_;
    std::mutex mutex_;
    int failures_ = 0;
};

}  // namespace tofu::cli::demo

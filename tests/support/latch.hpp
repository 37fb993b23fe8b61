// A single-use countdown, as std::latch, on a mutex and a condition variable. std::latch itself
// hangs in MinGW GCC 12's libstdc++ (its atomic wait has no futex there and loses wake-ups), and
// the Windows build runs these tests too.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace tofu::test {

class Latch {
public:
    explicit Latch(std::ptrdiff_t count) : count_{count} {}

    void count_down() {
        const std::lock_guard lock{mutex_};
        if (--count_ == 0) {
            zero_.notify_all();
        }
    }

    void wait() {
        std::unique_lock lock{mutex_};
        zero_.wait(lock, [this] { return count_ <= 0; });
    }

    void arrive_and_wait() {
        count_down();
        wait();
    }

private:
    std::mutex mutex_;
    std::condition_variable zero_;
    std::ptrdiff_t count_;
};

}  // namespace tofu::test

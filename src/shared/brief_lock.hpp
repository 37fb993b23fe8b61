// Taking a mutex that is only ever held briefly: a thread that finds it taken tries again a few times
// before it blocks. Blocking costs the waiter a sleep and the holder a wake-up (two system calls and
// two context switches), far more than the holder's few hundred nanoseconds under the lock.
#pragma once

#include <mutex>

namespace tofu::detail {

/// Tells the CPU this thread is spinning (a pause on x86, a yield hint on ARM).
inline void cpu_relax() noexcept {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    __builtin_ia32_pause();
#elif (defined(__GNUC__) || defined(__clang__)) && (defined(__aarch64__) || defined(__arm__))
    asm volatile("yield");
#endif
}

/// `mutex`, locked: tried `spins` times (with a pause between) before blocking on it.
inline std::unique_lock<std::mutex> lock_briefly(std::mutex& mutex, int spins = 64) {
    for (int i = 0; i < spins; ++i) {
        if (mutex.try_lock()) {
            return std::unique_lock<std::mutex>{mutex, std::adopt_lock};
        }
        cpu_relax();
    }
    return std::unique_lock<std::mutex>{mutex};
}

}  // namespace tofu::detail

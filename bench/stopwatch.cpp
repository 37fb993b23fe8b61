// Wall and process CPU time of a side's measured window.
#include <sys/resource.h>

#include "contender.hpp"

namespace tofu::bench {
namespace {

double process_cpu_seconds() noexcept {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

void Stopwatch::start() noexcept {
    cpu_start_ = process_cpu_seconds();
    wall_start_ = std::chrono::steady_clock::now();
}

void Stopwatch::stop() noexcept {
    wall_stop_ = std::chrono::steady_clock::now();
    cpu_stop_ = process_cpu_seconds();
}

double Stopwatch::seconds() const noexcept {
    return std::chrono::duration<double>(wall_stop_ - wall_start_).count();
}

double Stopwatch::cpu_seconds() const noexcept {
    return cpu_stop_ - cpu_start_;
}

}  // namespace tofu::bench

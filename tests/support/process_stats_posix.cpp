#include "support/process_stats.hpp"

#include <malloc.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TOFU_TEST_SANITIZER_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TOFU_TEST_SANITIZER_ALLOCATOR 1
#endif
#endif
#ifdef TOFU_TEST_SANITIZER_ALLOCATOR
// From the sanitizers' allocator interface (declared here: GCC does not install its header).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();  // NOLINT(bugprone-reserved-identifier)
#endif

namespace tofu::test {

bool process_stats_available() {
    std::error_code error;
    return std::filesystem::is_directory("/proc/self/fd", error) &&
           std::filesystem::exists("/proc/self/statm", error);
}

std::size_t open_descriptor_count() {
    // The directory listing holds one descriptor of its own while it runs; it is the same in every
    // count, so comparisons between counts are exact.
    const std::filesystem::directory_iterator entries{"/proc/self/fd"};
    return static_cast<std::size_t>(std::distance(begin(entries), end(entries)));
}

std::size_t resident_bytes() {
    std::ifstream statm{"/proc/self/statm"};
    std::size_t total_pages = 0;
    std::size_t resident_pages = 0;
    if (!(statm >> total_pages >> resident_pages)) {
        throw std::runtime_error{"cannot read /proc/self/statm"};
    }
    return resident_pages * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::size_t heap_bytes_in_use() {
#ifdef TOFU_TEST_SANITIZER_ALLOCATOR
    return __sanitizer_get_current_allocated_bytes();
#else
    const struct mallinfo2 info = ::mallinfo2();  // every arena: chunks in use, plus mmapped blocks
    return info.uordblks + info.hblkhd;
#endif
}

bool sanitizer_allocator() noexcept {
#ifdef TOFU_TEST_SANITIZER_ALLOCATOR
    return true;
#else
    return false;
#endif
}

std::chrono::duration<double> process_cpu_time() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return std::chrono::duration<double>{seconds(usage.ru_utime) + seconds(usage.ru_stime)};
}

}  // namespace tofu::test

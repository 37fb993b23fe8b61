#pragma once

// What the leak and spin checks read about this process, from the OS: open descriptors, memory,
// CPU time. One implementation per OS family (process_stats_posix.cpp, process_stats_windows.cpp).

#include <chrono>
#include <cstddef>

namespace tofu::test {

/// True where this process's descriptors and memory can be counted: Linux (/proc/self) and
/// Windows (the system handle list, the working set, the heaps).
[[nodiscard]] bool process_stats_available();

/// Open descriptors of this process: file descriptors on POSIX, handles on Windows (a socket is
/// one, so are threads and events).
[[nodiscard]] std::size_t open_descriptor_count();

/// Resident set size of this process (the working set on Windows), in bytes.
[[nodiscard]] std::size_t resident_bytes();

/// Heap bytes the program holds now (freed memory not counted): the sanitizer allocator's count
/// under ASan or TSan, where RSS follows the quarantine instead; glibc's `mallinfo2` on Linux; the
/// busy blocks of every heap of the process on Windows.
[[nodiscard]] std::size_t heap_bytes_in_use();

/// True when this build's allocator keeps freed memory out of reuse (AddressSanitizer's quarantine,
/// ThreadSanitizer's allocator), so the resident set says nothing about live memory.
[[nodiscard]] bool sanitizer_allocator() noexcept;

/// CPU time (user + system) this process has used so far, all threads together.
[[nodiscard]] std::chrono::duration<double> process_cpu_time();

}  // namespace tofu::test

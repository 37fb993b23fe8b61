// Software prefetch: a message written on another core is a cache miss on the engine thread; asking
// for its lines early lets many misses overlap instead of stalling one after another.
#pragma once

#include <cstddef>

#include <tofu/message.hpp>

namespace tofu::detail {

/// Asks for the cache line at `p`. A hint: it never faults, and does nothing where unsupported.
inline void prefetch(const void* p, bool for_write) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    if (!for_write) {
        __builtin_prefetch(p, 0);
        return;
    }
#if defined(__x86_64__)
    // PREFETCHW takes the line for writing (no second round trip to own it); the builtin only emits
    // it when the target CPU is named. Every x86-64 CPU runs it (older Intel ones as a no-op).
    asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
#else
    __builtin_prefetch(p, 1);
#endif
#else
    (void)p;
    (void)for_write;
#endif
}

/// Asks for every line of `msg` itself (not its buffers), to be written soon.
inline void prefetch_message(const Message* msg) noexcept {
    constexpr std::size_t line = 64;
    for (std::size_t at = 0; at < sizeof(Message); at += line) {
        prefetch(reinterpret_cast<const std::byte*>(msg) + at, true);
    }
}

/// Asks for every line of `msg` and the first of its body (`body`: its storage, null when none),
/// all to be written soon.
inline void prefetch_message_and_body(const Message* msg, const std::byte* body) noexcept {
    prefetch_message(msg);
    if (body != nullptr) {
        prefetch(body, true);
    }
}

}  // namespace tofu::detail

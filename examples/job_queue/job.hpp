// What a job is, shared by the job queue's server and workers: job N's payload is 1 KiB (N odd) or
// 200 KiB (N even) of bytes made from N, and its answer is their sum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include <tofu/stream.hpp>

namespace job {

inline std::size_t size(std::uint64_t id) {
    return id % 2 == 1 ? std::size_t{1024} : std::size_t{200} * 1024;
}

inline std::byte byte_at(std::uint64_t id, std::size_t i) {
    return static_cast<std::byte>((id * 131 + i * 7) & 0xffU);
}

inline std::uint64_t checksum(std::span<const std::byte> payload) {
    std::uint64_t sum = 0;
    for (const std::byte b : payload) {
        sum += std::to_integer<std::uint64_t>(b);
    }
    return sum;
}

inline std::uint64_t checksum(std::uint64_t id) {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < size(id); ++i) {
        sum += std::to_integer<std::uint64_t>(byte_at(id, i));
    }
    return sum;
}

// Job `id`'s payload, made part by part as post_stream asks for it: never held whole.
inline tofu::PayloadSource source(std::uint64_t id) {
    return [id, at = std::size_t{0}](std::span<std::byte> out) mutable {
        std::size_t n = 0;
        for (; n < out.size() && at < size(id); ++n, ++at) {
            out[n] = byte_at(id, at);
        }
        return n;
    };
}

}  // namespace job

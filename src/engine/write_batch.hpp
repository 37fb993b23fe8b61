// How much one vectored write gathers: enough frames to spread a system call over many small
// messages, few enough that the parts array stays small.
#pragma once

#include <cstddef>

namespace tofu::detail {

/// One vectored write takes up to this many frames.
inline constexpr std::size_t max_frames_per_write = 128;
/// A frame is at most three parts (binary header, text headers, body).
inline constexpr std::size_t max_parts_per_write = 3 * max_frames_per_write;

/// What one gathered write covers.
struct Gathered {
    std::size_t parts = 0;   ///< slices filled
    std::size_t bytes = 0;   ///< the bytes they point to
    std::size_t frames = 0;  ///< frames they reach into, a partly written front frame included
};

}  // namespace tofu::detail

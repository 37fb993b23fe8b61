// How much one vectored write gathers: enough frames to spread a system call over many small
// messages, few enough that the parts array stays small. Small frames are copied together into a
// staging buffer where the backend allows one, so the kernel copies one run of bytes instead of
// two or three short slices a frame.
#pragma once

#include <cstddef>

namespace tofu::detail {

/// One vectored write points at up to this many frames (staged frames, which share slices, are
/// bounded by the staging buffer instead).
inline constexpr std::size_t max_frames_per_write = 128;
/// A frame is at most three parts (binary header, text headers, body).
inline constexpr std::size_t max_parts_per_write = 3 * max_frames_per_write;
/// Frames up to this size are copied into the staging buffer rather than pointed at: below it,
/// the copy costs less than the kernel's work per slice.
inline constexpr std::size_t max_staged_frame = 512;
/// The staging buffer of a readiness backend's writes.
inline constexpr std::size_t write_staging_size = std::size_t{64} * 1024;

/// What one gathered write covers.
struct Gathered {
    std::size_t parts = 0;   ///< slices filled
    std::size_t bytes = 0;   ///< the bytes they point to
    std::size_t frames = 0;  ///< frames they reach into, a partly written front frame included
};

}  // namespace tofu::detail

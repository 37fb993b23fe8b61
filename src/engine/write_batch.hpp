// How much one vectored write gathers: enough frames to spread a system call over many small
// messages, few enough that the parts array stays small. Small frames are copied together into a
// staging buffer where the backend allows one, so the kernel copies one run of bytes instead of
// two or three short slices a frame.
#pragma once

#include <cstddef>
#include <cstdint>

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

/// What a peer's confirmations let a connection write now (Sender::window). Frames that answer the
/// peer (Responses, and what the application posts back as it read it) may fill the whole window;
/// frames the connection starts (Requests, Signals), half of it. Why: a peer confirms our answers
/// in the same stream as its Requests, behind them. Were both windows equal, a peer pipelining
/// Requests could put a window's worth of them before its confirmation: we would fill our window
/// with their answers before reading that far, stop reading (the answers wait), and neither side
/// would write again. A tofu peer holds its Requests to half its window, so ours has room.
struct SendWindow {
    std::size_t unconfirmed = 0;  ///< frames written that the peer has not confirmed
    std::size_t cap = SIZE_MAX;   ///< `Options::max_unconfirmed_frames`; SIZE_MAX: no confirmations

    /// A Request, Response or Signal may be written after `gathered` others in the same write.
    [[nodiscard]] bool admits(bool answers_peer, std::size_t gathered) const noexcept {
        return unconfirmed + gathered < (answers_peer ? cap : cap - cap / 2);
    }
};

}  // namespace tofu::detail

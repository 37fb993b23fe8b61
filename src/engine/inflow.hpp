// A connection's receiving side, as the loop's `Receiver` keeps it: the decoder, the frame it
// assembles across reads, and the bytes it keeps while it may not read on.
#pragma once

#include <cstddef>
#include <vector>

#include <tofu/message.hpp>

#include "message/frame_codec.hpp"

namespace tofu::detail {

struct Inflow {
    FrameDecoder decoder;
    /// The connection's own message for a frame that arrives across reads (or waits for the
    /// pool): decoded here, not into a pool message, so a peer that stalls inside a frame holds
    /// none of the pool. Null while the decoder fills it, and until the first such frame; let go
    /// when the loop goes idle.
    MessagePtr assembly;
    const Message* assembly_frame = nullptr;  ///< the same message, wherever it is (null: none)
    std::vector<std::byte> stash;             ///< bytes read but not decoded (starved, or read ahead)
    std::size_t stash_used = 0;
    /// Where in the stash the first frame not yet looked at for confirmations begins (it may lie
    /// past the stash's end), while `ahead_known`: see Receiver::on_read_ahead.
    std::size_t ahead_at = 0;
    bool ahead_known = false;
    /// Average size of this connection's frames (0: none yet). Reads are sized by it and by the
    /// pool's idle messages, so one read rarely needs more messages than the pool can give.
    std::size_t average_frame = 0;
    bool starved = false;          ///< reading stopped until messages come back to the pool
    bool paused = false;           ///< reading stopped until its echoes are written (Outbox::echoes)
    bool assembly_listed = false;  ///< in the receiver's list of connections keeping an assembly
    /// Starved, and off the receiver's list of starved connections while paused: its stash waits
    /// for its echoes to go out, and the pool's messages go to the others.
    bool starved_until_unpause = false;
};

}  // namespace tofu::detail

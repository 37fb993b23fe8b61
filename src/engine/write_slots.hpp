// Where a completion-based backend's sends point the kernel: a gathered write's message header
// and its parts must stay put until the send completes, after the loop turn that made it. Slots
// are kept and reused, so sending does not allocate once enough exist for the sends in flight.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <sys/socket.h>
#include <sys/uio.h>

#include "engine/write_batch.hpp"

namespace tofu::detail {

/// One send in flight: the channel it is for and what it writes.
struct WriteSlot {
    std::uint16_t channel = 0;
    std::uint32_t serial = 0;  ///< which incarnation of the channel number
    msghdr header{};
    std::array<iovec, max_parts_per_write> parts{};
};

class WriteSlots {
public:
    /// A free slot and its index (the index travels with the send).
    std::uint32_t take() {
        if (free_.empty()) {
            slots_.push_back(std::make_unique<WriteSlot>());
            free_.reserve(slots_.size());  // so giving back never allocates
            return static_cast<std::uint32_t>(slots_.size() - 1);
        }
        const std::uint32_t index = free_.back();
        free_.pop_back();
        return index;
    }
    [[nodiscard]] WriteSlot& operator[](std::uint32_t index) const noexcept { return *slots_[index]; }
    /// The send using `index` completed: the slot can be taken again.
    void give_back(std::uint32_t index) noexcept { free_.push_back(index); }

private:
    std::vector<std::unique_ptr<WriteSlot>> slots_;
    std::vector<std::uint32_t> free_;
};

}  // namespace tofu::detail

/// @file
/// Engine options and the pool's allocation strategy.
#pragma once

#include <cstdint>

namespace tofu {

/// What `Ampe::get` does when the pool is empty.
enum class AllocationStrategy : std::uint8_t {
    pool_only,  ///< return null
    always,     ///< allocate a new message
};

/// Settings of one engine.
struct Options {
    /// Messages made when the engine starts.
    std::uint32_t initial_pool_msgs = 16;
    /// Most messages the pool keeps; a message returned to a full pool is freed.
    /// Must be at least `initial_pool_msgs` and at least 1.
    std::uint32_t max_pool_msgs = 64;
};

}  // namespace tofu

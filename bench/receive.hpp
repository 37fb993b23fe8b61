// The benchmark's one way to wait for a tofu message: a patient wait that throws instead of
// returning null, so a stalled run ends with a reason.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

#include <tofu/channel_group.hpp>

namespace tofu::bench {

/// The next message of `group`; throws `std::runtime_error` ("<who>: nothing arrived in N s")
/// when none comes within `patience`.
inline MessagePtr receive_within(ChannelGroup& group, std::chrono::seconds patience, std::string_view who) {
    MessagePtr msg = group.wait_receive(patience);
    if (!msg) {
        throw std::runtime_error(std::string{who} + ": nothing arrived in " +
                                 std::to_string(patience.count()) + " s");
    }
    return msg;
}

}  // namespace tofu::bench

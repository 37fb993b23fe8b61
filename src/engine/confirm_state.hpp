// A connection's delivery confirmations (docs/engine.md, "Confirmations"), as the loop's
// `Confirmations` keeps them: each side tells the other how many frames it has received, so a
// break returns what the peer never confirmed.
#pragma once

#include <cstdint>

#include <tofu/message.hpp>

#include "engine/unconfirmed_log.hpp"

namespace tofu::detail {

struct ConfirmState {
    enum class Mode : std::uint8_t {
        off,      ///< the peer does not confirm
        offered,  ///< client: our Hello offered confirmations; the server's first frame says
        on,       ///< both engines confirm
    };

    std::uint64_t frames_in = 0;      ///< frames received from the peer (confirmations aside)
    std::uint64_t frames_out = 0;     ///< frames written to the peer (confirmations aside)
    std::uint64_t confirmed_in = 0;   ///< frames_in as our last confirmation told the peer
    std::uint64_t confirmed_out = 0;  ///< frames_out as the peer last confirmed
    /// frames_out when our ByeRequest was written (`no_bye`: none was): a ByeResponse confirms
    /// exactly these, as the peer read them before answering.
    std::uint64_t frames_before_bye = no_bye;
    static constexpr std::uint64_t no_bye = UINT64_MAX;
    UnconfirmedLog unconfirmed;             ///< regular frames written and not confirmed
    MessagePtr confirmation;                ///< our confirmation frame; null while it is queued to send
    Message* confirmation_frame = nullptr;  ///< the same message, wherever it is
    Mode mode = Mode::off;
    bool listed = false;  ///< in the list of connections owing their peer a confirmation
};

}  // namespace tofu::detail

#include "engine/channel_budget.hpp"

#include "message/message_access.hpp"
#include "net/tls.hpp"

namespace tofu::detail {

std::size_t message_bytes(const Message& m) noexcept {
    return sizeof(Message) + MessageAccess::headers_buffer(m).capacity() + m.body.capacity();
}

std::size_t held_bytes(const Channel& channel) noexcept {
    std::size_t n = sizeof(Channel);
    if (const auto* listener = std::get_if<Listener>(&channel)) {
        // Its record, and its WelcomeRequest while its host name is looked up.
        return n + (listener->welcome != nullptr ? message_bytes(*listener->welcome) : 0);
    }
    const auto* ch = std::get_if<Connection>(&channel);
    n += ch->in.stash.capacity() + ch->confirms.unconfirmed.capacity() * unconfirmed_entry_size;
    if (ch->in.assembly_frame != nullptr) {
        n += message_bytes(*ch->in.assembly_frame);
    }
    if (ch->confirms.confirmation_frame != nullptr) {
        n += message_bytes(*ch->confirms.confirmation_frame);
    }
    if (ch->hello.request != nullptr) {
        n += message_bytes(*ch->hello.request);
    }
    return n + ch->out.released_bytes + ch->stream->held_bytes();
}

}  // namespace tofu::detail

namespace tofu {

std::size_t channel_budget(const Options& options) noexcept {
    using namespace detail;
    // The record; its confirmation (a bare header); the frame it assembles and, on a client's
    // connection until its HelloResponse, the HelloRequest it keeps (each a message with room for
    // the largest frame); one read kept back from a dry pool or read ahead for confirmations; and
    // the window's log (a ring of power-of-two size: the window rounded up).
    std::size_t log_entries = 4;
    while (log_entries < options.max_unconfirmed_frames) {
        log_entries *= 2;
    }
    // The echoes it may hold in messages of its own while others wait for the pool. A TLS
    // connection's stream adds its own (`max_tls_stream_bytes`).
    return sizeof(Channel) + sizeof(Message) + 2 * (sizeof(Message) + max_frame_size) + max_read_size +
           log_entries * unconfirmed_entry_size + max_released_echo_bytes +
           (tls_available() ? max_tls_stream_bytes : 0);
}

}  // namespace tofu

// Confirmations read ahead of the decoder: taken out of bytes whose other frames wait for it.
//
// A connection that may not decode (the pool is dry, or its answers wait for the peer) can still
// learn from what its peer sent: the confirmations in it need no message, and one of them may be
// what lets its answers, and so its reading, go on. They are taken out, so the decoder never
// sees them; the frames around them stay, in order.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "message/frame_codec.hpp"

namespace tofu::detail {

/// Takes the confirmations out of the whole frames in `bytes` from `at` (where a frame begins),
/// calling `on_confirmation(count)` for each in order, and closes the gaps they leave. Returns
/// where the first frame not yet looked at begins (past the end when that frame is not all read);
/// none when `on_confirmation` said to stop by returning false (`bytes` is then not to be used:
/// the connection it belongs to is gone).
template <class OnConfirmation>
[[nodiscard]] std::optional<std::size_t> take_confirmations(std::vector<std::byte>& bytes, std::size_t at,
                                                            OnConfirmation&& on_confirmation) {
    constexpr std::size_t header_size = BinaryHeader::wire_size;
    std::byte* const data = bytes.data();
    const std::size_t size = bytes.size();
    std::size_t removed = 0;  // bytes of confirmations taken out before `at`
    const auto keep = [&](std::size_t from, std::size_t n) {
        if (removed != 0 && n != 0) {
            std::memmove(data + from - removed, data + from, n);
        }
    };
    while (at + header_size <= size) {
        const std::span<const std::byte, header_size> header{data + at, header_size};
        if (is_confirmation(header)) {
            const std::uint64_t count = BinaryHeader::decode(header).message_id;
            at += header_size;
            removed += header_size;
            if (!on_confirmation(count)) {
                return std::nullopt;
            }
            continue;
        }
        const BinaryHeader h = BinaryHeader::decode(header);
        const std::size_t frame = header_size + h.text_headers_len + h.body_len;
        keep(at, std::min(frame, size - at));
        at += frame;
    }
    if (at < size) {
        keep(at, size - at);  // a header not all read
    }
    bytes.resize(size - removed);
    return at - removed;
}

}  // namespace tofu::detail

// Fuzz target: the incremental frame decoder. The first input byte picks how the rest is cut into
// pieces (its low 7 bits) and whether confirmations are accepted (its high bit); the rest is a byte
// stream from a peer. Decoding it in those pieces must give exactly what decoding it whole gives
// (the same messages and confirmations, byte for byte, in the same order, and the same final
// verdict), and every message must match the lengths its header announced.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include <tofu/message.hpp>

#include "message/frame_codec.hpp"

namespace {

using tofu::detail::FrameDecoder;

/// A decoded message, or a confirmation (its header holds the count, nothing else).
struct Decoded {
    bool confirmation = false;
    tofu::BinaryHeader header;
    std::vector<std::byte> text_headers;
    std::vector<std::byte> body;
};

struct Outcome {
    std::vector<Decoded> messages;
    tofu::AmpeStatus verdict = tofu::AmpeStatus::success;  // `finish()` at the end of the stream
};

void check(bool condition) {
    if (!condition) {
        std::abort();  // a finding: libFuzzer saves the input
    }
}

/// Feeds `stream` in pieces of the sizes `cut` cycles through (all of it at once when `cut` is 0).
Outcome decode(std::span<const std::byte> stream, std::uint8_t cut, bool confirmations) {
    Outcome out;
    FrameDecoder decoder;
    decoder.accept_confirmations(confirmations);
    std::size_t piece_index = 0;
    while (!stream.empty()) {
        const std::size_t piece = cut == 0 ? stream.size() : 1 + (cut >> (piece_index++ % 4)) % 64;
        std::span<const std::byte> in = stream.first(std::min(piece, stream.size()));
        stream = stream.subspan(in.size());
        for (bool more = true; more;) {
            switch (decoder.feed(in)) {
                case FrameDecoder::Step::need_bytes: more = false; break;
                case FrameDecoder::Step::need_message: decoder.provide(tofu::Message::create()); break;
                case FrameDecoder::Step::message_ready: {
                    tofu::MessagePtr m = decoder.take();
                    check(m != nullptr);
                    const tofu::BinaryHeader& h = m->bhdr;
                    check(m->thdrs.size() == h.text_headers_len && m->body.size() == h.body_len);
                    out.messages.push_back({false,
                                            h,
                                            {m->thdrs.data().begin(), m->thdrs.data().end()},
                                            {m->body.data().begin(), m->body.data().end()}});
                    break;
                }
                case FrameDecoder::Step::confirmation: {
                    check(confirmations);
                    tofu::BinaryHeader h;
                    h.message_id = decoder.confirmed();
                    out.messages.push_back({true, h, {}, {}});
                    break;
                }
                case FrameDecoder::Step::error:
                    check(decoder.error_status() != tofu::AmpeStatus::success);
                    out.verdict = decoder.error_status();
                    return out;  // a real reader closes the connection here
            }
        }
        check(in.empty());  // need_bytes means every byte was used
    }
    out.verdict = decoder.finish();
    return out;
}

bool same_header(const tofu::BinaryHeader& a, const tofu::BinaryHeader& b) {
    return a.proto.to_byte() == b.proto.to_byte() && a.channel_number == b.channel_number &&
           a.status == b.status && a.message_id == b.message_id && a.text_headers_len == b.text_headers_len &&
           a.body_len == b.body_len;
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's entry point
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const auto cut = static_cast<std::uint8_t>(data[0] & 0x7FU);
    const bool confirmations = (data[0] & 0x80U) != 0;
    const std::span<const std::byte> stream{reinterpret_cast<const std::byte*>(data) + 1, size - 1};
    const Outcome whole = decode(stream, 0, confirmations);
    const Outcome pieces = decode(stream, cut == 0 ? 1 : cut, confirmations);
    check(whole.verdict == pieces.verdict);
    check(whole.messages.size() == pieces.messages.size());
    for (std::size_t i = 0; i < whole.messages.size(); ++i) {
        const Decoded& a = whole.messages[i];
        const Decoded& b = pieces.messages[i];
        check(a.confirmation == b.confirmation && same_header(a.header, b.header) &&
              a.text_headers == b.text_headers && a.body == b.body);
    }
    return 0;
}

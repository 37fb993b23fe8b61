// The frame codec against the golden vectors: encode, decode in any split, reject what a peer
// must never send.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include <tofu/tofu.hpp>

#include "message/confirmations_ahead.hpp"
#include "message/frame_codec.hpp"
#include "support/wire_vectors.hpp"

namespace tofu {
namespace {

using detail::FrameDecoder;
using Step = FrameDecoder::Step;
using test::wire_vectors;

std::vector<std::byte> flatten(const detail::FrameParts& frame) {
    std::vector<std::byte> out;
    for (const auto part : frame.parts) {
        out.insert(out.end(), part.begin(), part.end());
    }
    return out;
}

MessagePtr message_of(const test::ValidVector& v) {
    MessagePtr m = Message::create();
    m->bhdr = v.header;
    m->bhdr.text_headers_len = 0;  // encode fills the lengths itself
    m->bhdr.body_len = 0;
    m->thdrs.assign_raw(v.text_headers);
    m->body.copy(v.body);
    return m;
}

/// Feeds `bytes` in the given piece sizes (cycled) and collects what comes out.
struct DecodeResult {
    std::vector<MessagePtr> messages;
    std::vector<std::uint64_t> confirmations;  ///< the counts, in order
    AmpeStatus error = AmpeStatus::success;
    AmpeStatus finish = AmpeStatus::success;
};

DecodeResult decode(std::span<const std::byte> bytes, const std::vector<std::size_t>& pieces,
                    bool confirmations = false) {
    FrameDecoder decoder;
    decoder.accept_confirmations(confirmations);
    DecodeResult result;
    std::size_t offset = 0;
    for (std::size_t i = 0; offset < bytes.size(); ++i) {
        const std::size_t n = std::min(pieces[i % pieces.size()], bytes.size() - offset);
        std::span<const std::byte> in = bytes.subspan(offset, n);
        offset += n;
        for (bool more = true; more;) {
            switch (decoder.feed(in)) {
                case Step::need_message: decoder.provide(Message::create()); break;
                case Step::message_ready: result.messages.push_back(decoder.take()); break;
                case Step::confirmation: result.confirmations.push_back(decoder.confirmed()); break;
                case Step::error:
                    result.error = decoder.error_status();
                    result.finish = decoder.finish();
                    return result;
                case Step::need_bytes:
                    EXPECT_TRUE(in.empty()) << "need_bytes with input left";
                    more = false;
                    break;
            }
        }
    }
    result.finish = decoder.finish();
    return result;
}

void expect_matches(const Message& m, const test::ValidVector& v) {
    EXPECT_EQ(m.bhdr, v.header) << v.name;
    EXPECT_TRUE(std::ranges::equal(m.thdrs.data(), v.text_headers)) << v.name;
    EXPECT_TRUE(std::ranges::equal(m.body.data(), v.body)) << v.name;
}

TEST(FrameCodec, VectorsAreLoaded) {
    EXPECT_EQ(wire_vectors().valid.size(), 11U);
    EXPECT_EQ(wire_vectors().invalid_from_wire.size(), 12U);
}

TEST(FrameCodec, EncodesEveryValidVector) {
    for (const auto& v : wire_vectors().valid) {
        MessagePtr m = message_of(v);
        const auto frame = detail::encode_frame(*m);
        EXPECT_EQ(frame.size(), v.frame.size()) << v.name;
        EXPECT_EQ(flatten(frame), v.frame) << v.name;
        EXPECT_EQ(m->bhdr.text_headers_len, v.text_headers.size()) << v.name;
        EXPECT_EQ(m->bhdr.body_len, v.body.size()) << v.name;
    }
}

TEST(FrameCodec, HeaderEncodeDecodeRoundTrips) {
    for (const auto& v : wire_vectors().valid) {
        std::array<std::byte, BinaryHeader::wire_size> bytes{};
        v.header.encode(bytes);
        EXPECT_TRUE(std::ranges::equal(bytes, std::span{v.frame}.first(BinaryHeader::wire_size))) << v.name;
        EXPECT_EQ(BinaryHeader::decode(bytes), v.header) << v.name;
    }
}

TEST(FrameCodec, DecodesEveryValidVectorWhole) {
    for (const auto& v : wire_vectors().valid) {
        if (!travels(v.header.proto.op_code)) {
            continue;  // shown for encoding only; a receiver rejects it (see invalid vectors)
        }
        const auto r = decode(v.frame, {v.frame.size()});
        ASSERT_EQ(r.messages.size(), 1U) << v.name;
        EXPECT_EQ(r.finish, AmpeStatus::success) << v.name;
        expect_matches(*r.messages[0], v);
    }
}

TEST(FrameCodec, DecodesEveryValidVectorOneByteAtATime) {
    for (const auto& v : wire_vectors().valid) {
        if (!travels(v.header.proto.op_code)) {
            continue;
        }
        const auto r = decode(v.frame, {1});
        ASSERT_EQ(r.messages.size(), 1U) << v.name;
        EXPECT_EQ(r.finish, AmpeStatus::success) << v.name;
        expect_matches(*r.messages[0], v);
    }
}

TEST(FrameCodec, LocalOnlyVectorIsRejectedFromTheWire) {
    for (const auto& v : wire_vectors().valid) {
        if (travels(v.header.proto.op_code)) {
            continue;
        }
        const auto r = decode(v.frame, {v.frame.size()});
        EXPECT_TRUE(r.messages.empty()) << v.name;
        EXPECT_EQ(r.error, AmpeStatus::invalid_op_code) << v.name;
    }
}

TEST(FrameCodec, DecodesConcatenatedFramesInRandomSplits) {
    std::vector<std::byte> stream;
    std::vector<const test::ValidVector*> expected;
    for (int round = 0; round < 3; ++round) {
        for (const auto& v : wire_vectors().valid) {
            if (travels(v.header.proto.op_code)) {
                stream.insert(stream.end(), v.frame.begin(), v.frame.end());
                expected.push_back(&v);
            }
        }
    }
    for (unsigned seed = 1; seed <= 20; ++seed) {
        std::mt19937 rng{seed};
        // Mostly small pieces, sometimes large ones that hold several frames.
        std::uniform_int_distribution<std::size_t> small{1, 40};
        std::uniform_int_distribution<std::size_t> large{1, 300000};
        std::vector<std::size_t> pieces(64);
        for (auto& p : pieces) {
            p = (rng() % 4 == 0) ? large(rng) : small(rng);
        }
        const auto r = decode(stream, pieces);
        ASSERT_EQ(r.error, AmpeStatus::success) << "seed " << seed;
        EXPECT_EQ(r.finish, AmpeStatus::success) << "seed " << seed;
        ASSERT_EQ(r.messages.size(), expected.size()) << "seed " << seed;
        for (std::size_t i = 0; i < expected.size(); ++i) {
            expect_matches(*r.messages[i], *expected[i]);
        }
    }
}

AmpeStatus expected_violation(const std::string& name) {
    if (name == "more_on_hello") {
        return AmpeStatus::invalid_more_usage;
    }
    if (name.starts_with("message_id_zero")) {
        return AmpeStatus::invalid_message_id;
    }
    if (name.starts_with("truncated") || name == "reserved_bit_7") {
        return AmpeStatus::invalid_message;  // a truncated frame: reported at the end of the stream
    }
    return AmpeStatus::invalid_op_code;
}

TEST(FrameCodec, RejectsEveryInvalidVectorWholeAndByteByByte) {
    for (const auto& v : wire_vectors().invalid_from_wire) {
        for (const std::size_t piece : {v.frame.size(), std::size_t{1}}) {
            const auto r = decode(v.frame, {piece});
            EXPECT_TRUE(r.messages.empty()) << v.name << ": " << v.why;
            EXPECT_EQ(r.finish, expected_violation(v.name)) << v.name << ": " << v.why;
            if (!v.name.starts_with("truncated")) {
                EXPECT_EQ(r.error, expected_violation(v.name)) << v.name;
            }
        }
    }
}

TEST(FrameCodec, ValidFramesBeforeAViolationAreDelivered) {
    const auto& good = wire_vectors().valid[2];  // request_body
    const auto& bad = wire_vectors().invalid_from_wire[0];
    std::vector<std::byte> stream = good.frame;
    stream.insert(stream.end(), bad.frame.begin(), bad.frame.end());
    stream.insert(stream.end(), good.frame.begin(), good.frame.end());
    const auto r = decode(stream, {7});
    ASSERT_EQ(r.messages.size(), 1U);
    expect_matches(*r.messages[0], good);
    EXPECT_EQ(r.error, AmpeStatus::invalid_op_code);
}

TEST(FrameCodec, ErrorIsStickyUntilReset) {
    FrameDecoder decoder;
    const auto& bad = wire_vectors().invalid_from_wire[0].frame;
    std::span<const std::byte> in{bad};
    ASSERT_EQ(decoder.feed(in), Step::error);
    const auto& good = wire_vectors().valid[1].frame;  // hello_response
    std::span<const std::byte> again{good};
    EXPECT_EQ(decoder.feed(again), Step::error);
    EXPECT_EQ(decoder.finish(), AmpeStatus::invalid_op_code);

    decoder.reset();
    std::span<const std::byte> fresh{good};
    ASSERT_EQ(decoder.feed(fresh), Step::need_message);
    decoder.provide(Message::create());
    ASSERT_EQ(decoder.feed(fresh), Step::message_ready);
    EXPECT_EQ(decoder.take()->bhdr.proto.op_code, OpCode::hello_response);
}

TEST(FrameCodec, WaitsForAMessageWithoutConsumingThePayload) {
    const auto& v = wire_vectors().valid[2];  // request_body: 16 + 10 bytes
    FrameDecoder decoder;
    std::span<const std::byte> in{v.frame};
    ASSERT_EQ(decoder.feed(in), Step::need_message);
    EXPECT_EQ(in.size(), v.body.size()) << "only the header is consumed";
    EXPECT_EQ(decoder.pending_header().message_id, 42U);
    EXPECT_TRUE(decoder.mid_frame());
    EXPECT_EQ(decoder.feed(in), Step::need_message) << "still no message";
    EXPECT_EQ(decoder.finish(), AmpeStatus::invalid_message);

    MessagePtr used = Message::create();  // a recycled message with old content is reset
    used->thdrs.append("old", "stuff");
    used->body.copy(std::string_view{"old body"});
    decoder.provide(std::move(used));
    ASSERT_EQ(decoder.feed(in), Step::message_ready);
    EXPECT_TRUE(in.empty());
    const MessagePtr m = decoder.take();
    expect_matches(*m, v);
    EXPECT_FALSE(decoder.mid_frame());
    EXPECT_EQ(decoder.finish(), AmpeStatus::success);
}

TEST(FrameCodec, ProvidedMessageIsKeptForTheNextFrame) {
    FrameDecoder decoder;
    decoder.provide(Message::create());
    const auto& v = wire_vectors().valid[5];  // signal_empty
    std::span<const std::byte> in{v.frame};
    ASSERT_EQ(decoder.feed(in), Step::message_ready) << "no need_message when one was given ahead";
    expect_matches(*decoder.take(), v);
    std::span<const std::byte> none;
    EXPECT_EQ(decoder.feed(none), Step::need_bytes);
}

TEST(FrameCodec, PeerCannotPoseAsTheEngine) {
    auto frame = wire_vectors().valid[2].frame;
    frame[2] |= std::byte{0x10};  // origin bit
    const auto r = decode(frame, {frame.size()});
    ASSERT_EQ(r.messages.size(), 1U);
    EXPECT_FALSE(r.messages[0]->is_from_engine());
}

TEST(FrameCodec, StatusBytePastTheTableReadsAsUnknownError) {
    auto frame = wire_vectors().valid[2].frame;
    frame[3] = std::byte{200};
    const auto r = decode(frame, {frame.size()});
    ASSERT_EQ(r.messages.size(), 1U);
    EXPECT_EQ(r.messages[0]->bhdr.status, AmpeStatus::unknown_error);
}

TEST(FrameCodec, PeerCannotPoseAsAWakeUp) {
    // receiver_update is what this side's update_receiver makes; from the wire it reads like any
    // status the receiver cannot take for its own.
    auto frame = wire_vectors().valid[2].frame;
    frame[3] = static_cast<std::byte>(to_raw(AmpeStatus::receiver_update));
    const auto r = decode(frame, {frame.size()});
    ASSERT_EQ(r.messages.size(), 1U);
    EXPECT_EQ(r.messages[0]->bhdr.status, AmpeStatus::unknown_error);
}

TEST(FrameCodec, MoreIsAllowedOnEveryRegularType) {
    for (const OpCode op : {OpCode::request, OpCode::response, OpCode::signal}) {
        BinaryHeader h;
        h.proto.op_code = op;
        h.proto.more = true;
        h.message_id = 1;
        EXPECT_EQ(detail::check_wire_header(h), AmpeStatus::success) << op_code_name(op);
    }
    for (const OpCode op :
         {OpCode::hello_request, OpCode::hello_response, OpCode::bye_request, OpCode::bye_response}) {
        BinaryHeader h;
        h.proto.op_code = op;
        h.proto.more = true;
        h.message_id = 1;
        EXPECT_EQ(detail::check_wire_header(h), AmpeStatus::invalid_more_usage) << op_code_name(op);
    }
}

TEST(FrameCodec, MessageIdZeroIsAViolationForEveryOpCodeThatTravels) {
    for (const OpCode op : {OpCode::request, OpCode::response, OpCode::signal, OpCode::hello_request,
                            OpCode::hello_response, OpCode::bye_request, OpCode::bye_response}) {
        BinaryHeader h;
        h.proto.op_code = op;
        std::vector<std::byte> frame(BinaryHeader::wire_size);
        h.encode(std::span<std::byte, BinaryHeader::wire_size>{frame.data(), BinaryHeader::wire_size});
        for (const std::size_t piece : {frame.size(), std::size_t{1}}) {
            const auto r = decode(frame, {piece});
            EXPECT_TRUE(r.messages.empty()) << op_code_name(op);
            EXPECT_EQ(r.error, AmpeStatus::invalid_message_id) << op_code_name(op);
        }
    }
}

TEST(FrameCodec, TheReservedProtoBitIsAViolationOnEveryFrame) {
    auto frame = wire_vectors().valid[2].frame;  // request_body
    frame[2] |= std::byte{0x80};
    for (const std::size_t piece : {frame.size(), std::size_t{1}}) {
        const auto r = decode(frame, {piece});
        EXPECT_TRUE(r.messages.empty());
        EXPECT_EQ(r.error, AmpeStatus::invalid_message);
    }
}

/// A confirmation frame: op code 10, the count in the message id, nothing else.
std::vector<std::byte> confirmation_frame(std::uint64_t count) {
    BinaryHeader h;
    h.proto.op_code = detail::confirmation_op;
    h.message_id = count;
    std::vector<std::byte> frame(BinaryHeader::wire_size);
    h.encode(std::span<std::byte, BinaryHeader::wire_size>{frame.data(), BinaryHeader::wire_size});
    return frame;
}

TEST(FrameCodec, ConfirmationIsAViolationUnlessAccepted) {
    const auto frame = confirmation_frame(7);
    const auto r = decode(frame, {frame.size()});
    EXPECT_TRUE(r.confirmations.empty());
    EXPECT_EQ(r.error, AmpeStatus::invalid_op_code);
}

TEST(FrameCodec, AcceptedConfirmationsNeedNoMessageAndKeepTheirPlaceInAnySplit) {
    // Confirmations between the golden frames; cut in pieces of every size from 1 to 40.
    std::vector<std::byte> stream;
    std::size_t frames = 0;
    for (const auto& v : wire_vectors().valid) {
        if (travels(v.header.proto.op_code)) {
            stream.insert(stream.end(), v.frame.begin(), v.frame.end());
            const auto c = confirmation_frame(++frames);
            stream.insert(stream.end(), c.begin(), c.end());
        }
    }
    for (std::size_t piece = 1; piece <= 40; ++piece) {
        const auto r = decode(stream, {piece}, true);
        ASSERT_EQ(r.error, AmpeStatus::success) << "pieces of " << piece;
        EXPECT_EQ(r.finish, AmpeStatus::success) << "pieces of " << piece;
        EXPECT_EQ(r.messages.size(), frames) << "pieces of " << piece;
        ASSERT_EQ(r.confirmations.size(), frames) << "pieces of " << piece;
        for (std::size_t i = 0; i < frames; ++i) {
            EXPECT_EQ(r.confirmations[i], i + 1) << "pieces of " << piece;
        }
    }
}

TEST(FrameCodec, ConfirmationWithAnythingButItsCountIsInvalid) {
    const auto spoil = [](std::size_t at, std::byte value) {
        auto frame = confirmation_frame(3);
        frame[at] = value;
        return frame;
    };
    const std::vector<std::pair<std::string, std::vector<std::byte>>> bad{
        {"text headers", spoil(13, std::byte{1})}, {"body", spoil(15, std::byte{1})},
        {"more", spoil(2, std::byte{0x2A})},       {"oob", spoil(2, std::byte{0x4A})},
        {"origin", spoil(2, std::byte{0x1A})},     {"status", spoil(3, std::byte{5})},
    };
    for (const auto& [what, frame] : bad) {
        auto bytes = frame;
        if (what == "text headers" || what == "body") {
            bytes.push_back(std::byte{'x'});  // the byte its length announces
        }
        const auto r = decode(bytes, {1}, true);
        EXPECT_TRUE(r.confirmations.empty()) << what;
        EXPECT_EQ(r.error, AmpeStatus::invalid_message) << what;
    }
}

/// The golden frames up to `max_frame` bytes, each followed by a confirmation counting the
/// frames so far.
std::vector<std::byte> frames_with_confirmations(std::size_t& frames, std::size_t max_frame = SIZE_MAX) {
    std::vector<std::byte> stream;
    frames = 0;
    for (const auto& v : wire_vectors().valid) {
        if (travels(v.header.proto.op_code) && v.frame.size() <= max_frame) {
            stream.insert(stream.end(), v.frame.begin(), v.frame.end());
            const auto c = confirmation_frame(++frames);
            stream.insert(stream.end(), c.begin(), c.end());
        }
    }
    return stream;
}

/// Feeds all of `in` to `decoder`, collecting what comes out into `result`; false on an error.
bool feed_all(FrameDecoder& decoder, std::span<const std::byte> in, DecodeResult& result) {
    for (;;) {
        switch (decoder.feed(in)) {
            case Step::need_message: decoder.provide(Message::create()); break;
            case Step::message_ready: result.messages.push_back(decoder.take()); break;
            case Step::confirmation: result.confirmations.push_back(decoder.confirmed()); break;
            case Step::error: result.error = decoder.error_status(); return false;
            case Step::need_bytes: return true;
        }
    }
}

TEST(ConfirmationsAhead, AreTakenInOrderAndLeaveEveryOtherFrameToTheDecoder) {
    // The decoder stops at every point of the stream (a connection that may not decode); the rest
    // arrives in pieces of 1 to 40 bytes, and after each piece the confirmations in it are taken
    // out. Then the decoder goes on: every confirmation was seen once, in order, and every frame
    // comes out as if nothing had been taken. (The golden frames but the biggest: the same steps,
    // many fewer bytes.)
    std::size_t frames = 0;
    const std::vector<std::byte> stream = frames_with_confirmations(frames, 4096);
    ASSERT_GE(frames, 5U);
    for (std::size_t cut = 0; cut < stream.size(); ++cut) {
        for (std::size_t piece = 1; piece <= 40; piece += 3) {
            FrameDecoder decoder;
            decoder.accept_confirmations(true);
            DecodeResult result;
            ASSERT_TRUE(feed_all(decoder, std::span{stream}.first(cut), result));
            std::vector<std::byte> kept;
            std::size_t used = 0;  // of `kept`, fed to the decoder to complete a header cut short
            std::optional<std::size_t> at;
            for (std::size_t offset = cut; offset < stream.size(); offset += piece) {
                const auto arrived =
                    std::span{stream}.subspan(offset, std::min(piece, stream.size() - offset));
                kept.insert(kept.end(), arrived.begin(), arrived.end());
                if (!at) {
                    std::span<const std::byte> rest = std::span{kept}.subspan(used);
                    const std::size_t before = rest.size();
                    const Step step = decoder.finish_header(rest);
                    used += before - rest.size();
                    ASSERT_NE(step, Step::error);
                    if (step == Step::confirmation) {
                        result.confirmations.push_back(decoder.confirmed());
                    }
                    if (const auto left = decoder.bytes_to_frame_end()) {
                        at = used + *left;
                    }
                }
                if (at) {
                    at = detail::take_confirmations(kept, *at, [&result](std::uint64_t count) {
                        result.confirmations.push_back(count);
                        return true;
                    });
                    ASSERT_TRUE(at.has_value());
                }
            }
            ASSERT_TRUE(feed_all(decoder, std::span{kept}.subspan(used), result)) << "cut " << cut;
            ASSERT_EQ(result.messages.size(), frames) << "cut " << cut << ", pieces of " << piece;
            ASSERT_EQ(result.confirmations.size(), frames) << "cut " << cut << ", pieces of " << piece;
            for (std::size_t i = 0; i < frames; ++i) {
                EXPECT_EQ(result.confirmations[i], i + 1) << "cut " << cut << ", pieces of " << piece;
            }
            EXPECT_EQ(decoder.finish(), AmpeStatus::success);
        }
    }
}

TEST(ConfirmationsAhead, StopWhenTheirHandlerSaysSo) {
    std::size_t frames = 0;
    std::vector<std::byte> stream = frames_with_confirmations(frames);
    ASSERT_GE(frames, 3U);
    std::vector<std::uint64_t> seen;
    const auto next = detail::take_confirmations(stream, 0, [&seen](std::uint64_t count) {
        seen.push_back(count);
        return count < 2;
    });
    EXPECT_FALSE(next.has_value());
    EXPECT_EQ(seen, (std::vector<std::uint64_t>{1, 2}));
}

TEST(ConfirmationsAhead, AConfirmationWithTheReservedBitIsLeftForTheDecoderToRefuse) {
    std::vector<std::byte> bytes = confirmation_frame(1);
    bytes[2] |= std::byte{0x80};
    const std::vector<std::byte> sent = bytes;
    bool called = false;
    const auto next =
        detail::take_confirmations(bytes, 0, [&called](std::uint64_t) { return called = true; });
    EXPECT_FALSE(called);
    EXPECT_EQ(bytes, sent);
    EXPECT_EQ(next, std::optional<std::size_t>{BinaryHeader::wire_size});
}

}  // namespace
}  // namespace tofu

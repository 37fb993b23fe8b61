// Putting streams back together (tofu/stream.hpp, StreamAssembler) from hand-made parts:
// interleaving, both limits, a dropped stream's later parts, dropping a closed channel's streams.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <tofu/tofu.hpp>

namespace tofu {
namespace {

MessagePtr part(std::uint16_t channel, std::uint64_t id, std::string_view body, bool more,
                OpCode op = OpCode::request) {
    MessagePtr msg = Message::create();
    msg->bhdr.proto.op_code = op;
    msg->bhdr.channel_number = channel;
    msg->bhdr.message_id = id;
    msg->bhdr.proto.more = more;
    msg->body.copy(body);
    return msg;
}

/// True when `step` kept its part and completed nothing.
bool pending(const StreamStep& step) {
    return !step.payload && !step.drop;
}

TEST(StreamAssembler, ASingleMessagePassesWithoutACopy) {
    StreamAssembler assembler;
    MessagePtr msg = part(1, 5, "whole", false);
    const Message* const original = msg.get();
    StreamStep step = assembler.add(std::move(msg));
    ASSERT_TRUE(step.payload);
    EXPECT_EQ(&step.payload->message(), original);
    EXPECT_EQ(step.payload->text(), "whole");
    EXPECT_EQ(step.payload->parts(), 1U);
}

TEST(StreamAssembler, PartsJoinInOrderWithTheFirstPartsHeaders) {
    StreamAssembler assembler;
    MessagePtr first = part(1, 5, "ab", true, OpCode::response);
    first->thdrs.append("Name", "value");
    EXPECT_TRUE(pending(assembler.add(std::move(first))));
    MessagePtr second = part(1, 5, "cd", true, OpCode::response);
    second->thdrs.append("Later", "ignored");
    EXPECT_TRUE(pending(assembler.add(std::move(second))));
    EXPECT_EQ(assembler.held_bytes(), 4U);
    StreamStep step = assembler.add(part(1, 5, "e", false, OpCode::response));
    ASSERT_TRUE(step.payload);
    EXPECT_EQ(step.payload->text(), "abcde");
    EXPECT_EQ(step.payload->parts(), 3U);
    const Message& head = step.payload->message();
    EXPECT_EQ(head.bhdr.proto.op_code, OpCode::response);
    EXPECT_EQ(head.bhdr.message_id, 5U);
    EXPECT_FALSE(head.has_more());
    EXPECT_EQ(head.thdrs.find("Name"), "value");
    EXPECT_EQ(head.thdrs.find("Later"), std::nullopt);
    EXPECT_EQ(assembler.open_streams(), 0U);
    EXPECT_EQ(assembler.held_bytes(), 0U);
}

TEST(StreamAssembler, StreamsInterleaveOnOneChannelAndAcrossChannels) {
    StreamAssembler assembler;
    EXPECT_TRUE(pending(assembler.add(part(1, 5, "a1", true))));
    EXPECT_TRUE(pending(assembler.add(part(1, 6, "b1", true))));
    EXPECT_TRUE(pending(assembler.add(part(2, 5, "c1", true))));  // same id, another channel
    EXPECT_TRUE(pending(assembler.add(part(1, 5, "a2", true))));
    StreamStep single = assembler.add(part(1, 7, "single", false));  // between the parts of others
    ASSERT_TRUE(single.payload);
    EXPECT_EQ(single.payload->text(), "single");
    StreamStep b = assembler.add(part(1, 6, "b2", false));
    StreamStep c = assembler.add(part(2, 5, "c2", false));
    StreamStep a = assembler.add(part(1, 5, "a3", false));
    ASSERT_TRUE(a.payload && b.payload && c.payload);
    EXPECT_EQ(a.payload->text(), "a1a2a3");
    EXPECT_EQ(b.payload->text(), "b1b2");
    EXPECT_EQ(c.payload->text(), "c1c2");
    EXPECT_EQ(c.payload->message().bhdr.channel_number, 2U);
}

TEST(StreamAssembler, AStreamPastTheSizeLimitIsDroppedWithItsLaterParts) {
    StreamAssembler assembler{StreamLimits{.max_payload = 5, .max_streams = 4}};
    EXPECT_TRUE(pending(assembler.add(part(1, 5, "abc", true))));
    StreamStep over = assembler.add(part(1, 5, "def", true));
    ASSERT_TRUE(over.drop);
    EXPECT_EQ(over.drop->error, StreamError::payload_too_big);
    EXPECT_EQ(over.drop->key, (StreamKey{1, 5}));
    EXPECT_EQ(assembler.held_bytes(), 0U) << "a dropped stream's bytes go at once";
    EXPECT_EQ(assembler.dropped_streams(), 1U);

    StreamStep later = assembler.add(part(1, 5, "g", true));
    ASSERT_TRUE(later.drop) << "not read as a new stream";
    EXPECT_EQ(later.drop->error, StreamError::dropped_earlier);
    StreamStep last = assembler.add(part(1, 5, "h", false));
    ASSERT_TRUE(last.drop) << "the last part is not a payload of its own";
    EXPECT_EQ(last.drop->error, StreamError::dropped_earlier);
    EXPECT_EQ(assembler.dropped_streams(), 0U) << "forgotten after its last part";

    StreamStep again = assembler.add(part(1, 5, "new", false));  // the id may start afresh now
    ASSERT_TRUE(again.payload);
    EXPECT_EQ(again.payload->text(), "new");
}

TEST(StreamAssembler, AFirstPartPastTheSizeLimitIsRefused) {
    StreamAssembler assembler{StreamLimits{.max_payload = 2, .max_streams = 4}};
    StreamStep step = assembler.add(part(1, 5, "abc", true));
    ASSERT_TRUE(step.drop);
    EXPECT_EQ(step.drop->error, StreamError::payload_too_big);
    StreamStep single = assembler.add(part(1, 6, "abc", false));
    ASSERT_TRUE(single.drop);
    EXPECT_EQ(single.drop->error, StreamError::payload_too_big);
    EXPECT_EQ(assembler.add(part(1, 5, "x", false)).drop->error, StreamError::dropped_earlier);
}

TEST(StreamAssembler, ANewStreamPastTheStreamLimitIsRefusedWithItsLaterParts) {
    StreamAssembler assembler{StreamLimits{.max_payload = 100, .max_streams = 2}};
    EXPECT_TRUE(pending(assembler.add(part(1, 1, "a", true))));
    EXPECT_TRUE(pending(assembler.add(part(1, 2, "b", true))));
    StreamStep refused = assembler.add(part(1, 3, "c", true));
    ASSERT_TRUE(refused.drop);
    EXPECT_EQ(refused.drop->error, StreamError::too_many_streams);
    EXPECT_EQ(refused.drop->key, (StreamKey{1, 3}));
    ASSERT_TRUE(assembler.add(part(1, 1, "a", false)).payload);  // room again, but...
    StreamStep rest = assembler.add(part(1, 3, "c", false));
    ASSERT_TRUE(rest.drop) << "...the refused stream's last part is not taken for a whole payload";
    EXPECT_EQ(rest.drop->error, StreamError::dropped_earlier);
    EXPECT_TRUE(assembler.add(part(1, 4, "single", false)).payload) << "whole messages still pass";
}

TEST(StreamAssembler, WithNoRoomToRememberARefusalTheChannelIsRefused) {
    StreamAssembler assembler{StreamLimits{.max_payload = 100, .max_streams = 1}};
    EXPECT_TRUE(pending(assembler.add(part(1, 1, "a", true))));
    EXPECT_EQ(assembler.add(part(1, 2, "b", true)).drop->error, StreamError::too_many_streams);
    StreamStep third = assembler.add(part(1, 3, "c", true));  // one refusal remembered already
    ASSERT_TRUE(third.drop);
    EXPECT_EQ(third.drop->error, StreamError::channel_refused);
    EXPECT_EQ(assembler.open_streams(), 0U) << "the channel's streams went with it";
    EXPECT_EQ(assembler.dropped_streams(), 0U);
    EXPECT_EQ(assembler.add(part(1, 9, "single", false)).drop->error, StreamError::channel_refused);
    EXPECT_TRUE(assembler.add(part(1, 9, "", false, OpCode::bye_request)).payload) << "Bye always passes";
    EXPECT_TRUE(assembler.add(part(2, 9, "other", false)).payload) << "other channels are not refused";
    EXPECT_EQ(assembler.drop_channel(1), 0U);
    EXPECT_TRUE(assembler.add(part(1, 9, "single", false)).payload) << "until the channel is dropped";
}

TEST(StreamAssembler, DroppingAChannelForgetsItsStreamsOnly) {
    StreamAssembler assembler;
    EXPECT_TRUE(pending(assembler.add(part(1, 5, "a", true))));
    EXPECT_TRUE(pending(assembler.add(part(1, 6, "b", true))));
    EXPECT_TRUE(pending(assembler.add(part(2, 5, "c", true))));
    EXPECT_EQ(assembler.drop_channel(1), 2U);
    EXPECT_EQ(assembler.open_streams(), 1U);
    EXPECT_EQ(assembler.held_bytes(), 1U);
    StreamStep other = assembler.add(part(2, 5, "d", false));
    ASSERT_TRUE(other.payload);
    EXPECT_EQ(other.payload->text(), "cd");
    EXPECT_TRUE(assembler.drop(StreamKey{1, 7}) == false);
}

}  // namespace
}  // namespace tofu

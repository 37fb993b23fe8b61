#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <tofu/tofu.hpp>

namespace tofu {
namespace {

TEST(OpCodes, TypesRolesAndEcho) {
    struct Row {
        OpCode op;
        MessageType type;
        MessageRole role;
        OpCode echo;
        bool travels;
        std::string_view name;
    };
    const Row rows[] = {
        {OpCode::request, MessageType::regular, MessageRole::request, OpCode::response, true, "Request"},
        {OpCode::response, MessageType::regular, MessageRole::response, OpCode::response, true, "Response"},
        {OpCode::signal, MessageType::regular, MessageRole::signal, OpCode::signal, true, "Signal"},
        {OpCode::hello_request, MessageType::hello, MessageRole::request, OpCode::hello_response, true,
         "HelloRequest"},
        {OpCode::hello_response, MessageType::hello, MessageRole::response, OpCode::hello_response, true,
         "HelloResponse"},
        {OpCode::bye_request, MessageType::bye, MessageRole::request, OpCode::bye_response, true,
         "ByeRequest"},
        {OpCode::bye_response, MessageType::bye, MessageRole::response, OpCode::bye_response, true,
         "ByeResponse"},
        {OpCode::bye_signal, MessageType::bye, MessageRole::signal, OpCode::bye_signal, false, "ByeSignal"},
        {OpCode::welcome_request, MessageType::welcome, MessageRole::request, OpCode::welcome_response, false,
         "WelcomeRequest"},
        {OpCode::welcome_response, MessageType::welcome, MessageRole::response, OpCode::welcome_response,
         false, "WelcomeResponse"},
    };
    for (const Row& r : rows) {
        EXPECT_TRUE(is_defined(r.op));
        EXPECT_EQ(type_of(r.op), r.type) << r.name;
        EXPECT_EQ(role_of(r.op), r.role) << r.name;
        EXPECT_EQ(echo(r.op), r.echo) << r.name;
        EXPECT_EQ(travels(r.op), r.travels) << r.name;
        EXPECT_EQ(op_code_name(r.op), r.name);
    }
    for (std::uint8_t raw = 10; raw < 16; ++raw) {
        EXPECT_FALSE(is_defined(static_cast<OpCode>(raw)));
        EXPECT_FALSE(travels(static_cast<OpCode>(raw)));
        EXPECT_EQ(op_code_name(static_cast<OpCode>(raw)), "Undefined");
    }
}

TEST(ProtoFields, PacksBitsAsTheWireSays) {
    EXPECT_EQ((ProtoFields{OpCode::hello_request, Origin::application, false, false}.to_byte()), 0x03);
    EXPECT_EQ((ProtoFields{OpCode::request, Origin::engine, false, false}.to_byte()), 0x10);
    EXPECT_EQ((ProtoFields{OpCode::request, Origin::application, true, false}.to_byte()), 0x20);
    EXPECT_EQ((ProtoFields{OpCode::bye_signal, Origin::application, false, true}.to_byte()), 0x47);
    for (unsigned b = 0; b < 128; ++b) {
        EXPECT_EQ(ProtoFields::from_byte(static_cast<std::uint8_t>(b)).to_byte(), b);
    }
    // The reserved bit is ignored when reading.
    EXPECT_EQ(ProtoFields::from_byte(0x82), ProtoFields::from_byte(0x02));
    const auto p = ProtoFields::from_byte(0x35);
    EXPECT_EQ(p.op_code, OpCode::bye_request);
    EXPECT_EQ(p.origin, Origin::engine);
    EXPECT_TRUE(p.more);
    EXPECT_FALSE(p.oob);
    EXPECT_EQ(p.type(), MessageType::bye);
    EXPECT_EQ(p.role(), MessageRole::request);
}

TEST(Message, StartsEmpty) {
    const MessagePtr m = Message::create();
    ASSERT_TRUE(m);
    EXPECT_EQ(m->bhdr, BinaryHeader{});
    EXPECT_EQ(m->bhdr.channel_number, unassigned_channel);
    EXPECT_EQ(m->bhdr.proto.op_code, OpCode::request);
    EXPECT_TRUE(m->thdrs.empty());
    EXPECT_TRUE(m->body.empty());
    EXPECT_FALSE(m->is_from_engine());
    EXPECT_FALSE(m->has_more());
}

TEST(Message, FlagsReadFromTheHeader) {
    const MessagePtr m = Message::create();
    m->bhdr.proto.origin = Origin::engine;
    m->bhdr.proto.more = true;
    EXPECT_TRUE(m->is_from_engine());
    EXPECT_TRUE(m->has_more());
}

TEST(Body, AppendCopyResetAndSpan) {
    const MessagePtr m = Message::create();
    m->body.append(std::string_view{"hello"});
    m->body.append(std::string_view{", tofu"});
    EXPECT_EQ(m->body.text(), "hello, tofu");
    EXPECT_EQ(m->body.size(), 11U);
    const std::span<const std::byte> bytes = m->body.data();
    EXPECT_EQ(bytes.size(), 11U);
    EXPECT_EQ(bytes[0], std::byte{'h'});

    const std::vector<std::byte> raw{std::byte{0}, std::byte{0xFF}, std::byte{7}};
    m->body.copy(raw);
    EXPECT_TRUE(std::ranges::equal(m->body.data(), raw));

    const std::size_t capacity = m->body.capacity();
    m->body.reset();
    EXPECT_TRUE(m->body.empty());
    EXPECT_EQ(m->body.capacity(), capacity) << "reset keeps the storage";
}

TEST(Body, LimitIs65535BytesWithAClearError) {
    const MessagePtr m = Message::create();
    const std::string full(max_part_size, 'x');
    m->body.copy(full);
    EXPECT_EQ(m->body.size(), max_part_size);
    try {
        m->body.append(std::string_view{"y"});
        FAIL() << "no error past the limit";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), AmpeStatus::invalid_body_len);
        EXPECT_NE(std::string{e.what()}.find("65536"), std::string::npos) << e.what();
    }
    EXPECT_EQ(m->body.size(), max_part_size) << "a failed append changes nothing";
    EXPECT_THROW(m->body.copy(std::string(max_part_size + 1, 'z')), Error);
    EXPECT_EQ(m->body.text(), full);
    EXPECT_THROW(m->body.reserve(max_part_size + 1), Error);
}

TEST(Message, ResetClearsEverythingButKeepsCapacity) {
    const MessagePtr m = Message::create();
    m->bhdr.channel_number = 5;
    m->bhdr.message_id = 99;
    m->bhdr.status = AmpeStatus::channel_closed;
    m->thdrs.append("a", "b");
    m->body.copy(std::string(1000, 'q'));
    m->reset();
    EXPECT_EQ(m->bhdr, BinaryHeader{});
    EXPECT_TRUE(m->thdrs.empty());
    EXPECT_TRUE(m->body.empty());
    EXPECT_GE(m->body.capacity(), 1000U);
}

TEST(Message, CloneIsADeepStandaloneCopy) {
    const MessagePtr m = Message::create();
    m->bhdr.channel_number = 3;
    m->bhdr.proto.op_code = OpCode::signal;
    m->bhdr.message_id = 12;
    m->thdrs.append("Progress", "[1:2]");
    m->body.copy(std::string_view{"data"});
    const MessagePtr c = m->clone();
    EXPECT_NE(c.get(), m.get());
    EXPECT_EQ(c->bhdr, m->bhdr);
    EXPECT_EQ(c->thdrs.text(), m->thdrs.text());
    EXPECT_EQ(c->body.text(), "data");
    m->body.copy(std::string_view{"changed"});
    EXPECT_EQ(c->body.text(), "data");
}

}  // namespace
}  // namespace tofu

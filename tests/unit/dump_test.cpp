// One readable line per message (tofu/dump.hpp): every field, escaping, the body cut at its limit.
#include <gtest/gtest.h>

#include <cstddef>
#include <sstream>
#include <string>
#include <string_view>

#include <tofu/tofu.hpp>

namespace tofu {
namespace {

MessagePtr sample(OpCode op, std::string_view body) {
    MessagePtr msg = Message::create();
    msg->bhdr.proto.op_code = op;
    msg->bhdr.channel_number = 7;
    msg->bhdr.message_id = 42;
    msg->body.copy(body);
    return msg;
}

TEST(Dump, AnEmptyMessage) {
    const MessagePtr msg = Message::create();
    EXPECT_EQ(to_string(*msg), "Request ch=0 id=0 more=0 origin=application headers{} body[0]=\"\"");
}

TEST(Dump, EveryField) {
    MessagePtr msg = sample(OpCode::signal, "hello, tofu");
    msg->bhdr.proto.more = true;
    msg->bhdr.proto.origin = Origin::engine;
    msg->bhdr.status = AmpeStatus::channel_closed;
    msg->thdrs.append("~reason", "success");
    msg->thdrs.append("Trace", "a b");
    EXPECT_EQ(to_string(*msg),
              "Signal ch=7 id=42 more=1 origin=engine status=channel_closed "
              "headers{~reason=\"success\" Trace=\"a b\"} body[11]=\"hello, tofu\"");
}

TEST(Dump, TheBinaryHeaderAlone) {
    MessagePtr msg = sample(OpCode::hello_request, "");
    EXPECT_EQ(to_string(msg->bhdr), "HelloRequest ch=7 id=42 more=0 origin=application");
    msg->bhdr.status = AmpeStatus::connect_failed;
    std::ostringstream out;
    out << msg->bhdr;
    EXPECT_EQ(out.str(), "HelloRequest ch=7 id=42 more=0 origin=application status=connect_failed");
}

TEST(Dump, StreamsTheSameLine) {
    MessagePtr msg = sample(OpCode::response, "ok");
    msg->thdrs.append("Job", "print");
    std::ostringstream out;
    out << *msg;
    EXPECT_EQ(out.str(), to_string(*msg));
}

TEST(Dump, EscapesWhatWouldBreakTheLineOrForgeAField) {
    MessagePtr msg = sample(OpCode::signal, "say \"hi\"\\\n\tdone\r");
    msg->thdrs.assign_raw(std::as_bytes(std::span{std::string_view{"a b=c}:\x01v\"\r\n"}}));
    const std::string line = to_string(*msg);
    EXPECT_EQ(line,
              "Signal ch=7 id=42 more=0 origin=application headers{a\\x20b\\x3dc\\x7d=\"\\x01v\\\"\"} "
              "body[16]=\"say \\\"hi\\\"\\\\\\n\\tdone\\r\"");
    EXPECT_EQ(line.find_first_of("\r\n"), std::string::npos);
}

TEST(Dump, ABinaryBodyIsHex) {
    const MessagePtr msg = sample(OpCode::response, std::string_view{"\x00\xFF\x10\xAB", 4});
    EXPECT_EQ(to_string(*msg),
              "Response ch=7 id=42 more=0 origin=application headers{} body[4]=hex:00ff10ab");
}

TEST(Dump, TextPastTheLimitIsCutBetweenCharacters) {
    // 63 ASCII bytes and a 2-byte character: the character would end past 64, so it is left out.
    const std::string body = std::string(63, 'a') + "\xC3\xBC" + "tail";
    const MessagePtr msg = sample(OpCode::request, body);
    EXPECT_EQ(to_string(*msg), "Request ch=7 id=42 more=0 origin=application headers{} body[69]=\"" +
                                   std::string(63, 'a') + "\"...");
    EXPECT_EQ(to_string(*msg, 65), "Request ch=7 id=42 more=0 origin=application headers{} body[69]=\"" +
                                       std::string(63, 'a') + "\xC3\xBC\"...");
    EXPECT_EQ(to_string(*msg, body.size()).find("..."), std::string::npos) << "nothing left out";
}

TEST(Dump, HexPastTheLimitIsCut) {
    const MessagePtr msg = sample(OpCode::request, std::string_view{"\x00\x01\x02\x03", 4});
    EXPECT_EQ(to_string(*msg, 2),
              "Request ch=7 id=42 more=0 origin=application headers{} body[4]=hex:0001...");
    EXPECT_EQ(to_string(*msg, 0), "Request ch=7 id=42 more=0 origin=application headers{} body[4]=hex:...");
}

TEST(Dump, A64KiBBodyKeepsTheLineShort) {
    const MessagePtr text = sample(OpCode::request, std::string(max_part_size, 'x'));
    const MessagePtr binary = sample(OpCode::request, std::string(max_part_size, '\0'));
    for (const MessagePtr* msg : {&text, &binary}) {
        const std::string line = to_string(**msg);
        EXPECT_LT(line.size(), 256U) << line;
        EXPECT_NE(line.find("body[65535]="), std::string::npos) << line;
        EXPECT_EQ(line.substr(line.size() - 3), "...");
    }
}

TEST(Dump, PrintableText) {
    EXPECT_TRUE(is_printable_text(""));
    EXPECT_TRUE(is_printable_text("hello, tofu\tline\r\n"));
    EXPECT_TRUE(is_printable_text("gr\xC3\xBC\xC3\x9F dich \xE2\x82\xAC \xF0\x9F\x8D\xA3"));
    EXPECT_FALSE(is_printable_text(std::string_view{"a\0b", 3}));
    EXPECT_FALSE(is_printable_text("bell\x07"));
    EXPECT_FALSE(is_printable_text("del\x7F"));
    EXPECT_FALSE(is_printable_text("\xFF"));
    EXPECT_FALSE(is_printable_text("\xC3"));              // cut short
    EXPECT_FALSE(is_printable_text("\xC0\xAF"));          // overlong
    EXPECT_FALSE(is_printable_text("\xED\xA0\x80"));      // a surrogate
    EXPECT_FALSE(is_printable_text("\xF4\x90\x80\x80"));  // past U+10FFFF
}

}  // namespace
}  // namespace tofu

// Printing messages (tools/tofu/print.hpp): the text line and the JSON object carry every field,
// text bodies print as escaped text and anything else as hex, and no output ever breaks a line.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <tofu/message.hpp>
#include <tofu/status.hpp>

#include "print.hpp"

namespace tofu::cli {
namespace {

MessagePtr sample(OpCode op, std::string_view body) {
    MessagePtr msg = Message::create();
    msg->bhdr.proto.op_code = op;
    msg->bhdr.channel_number = 7;
    msg->bhdr.message_id = 42;
    msg->body.copy(body);
    return msg;
}

TEST(CliPrint, TextLineHasEveryField) {
    MessagePtr msg = sample(OpCode::request, "hello, tofu");
    msg->bhdr.proto.more = true;
    msg->thdrs.append("Job", "print");
    msg->thdrs.append("Trace", "a b");
    EXPECT_EQ(format_text(*msg),
              "Request ch=7 id=42 more=1 origin=application headers{Job=\"print\" Trace=\"a b\"} "
              "body[11]=\"hello, tofu\"");
}

TEST(CliPrint, TextLineShowsEngineOriginAndStatus) {
    MessagePtr msg = sample(OpCode::signal, "");
    msg->bhdr.proto.origin = Origin::engine;
    msg->bhdr.status = AmpeStatus::channel_closed;
    msg->thdrs.append("~reason", "success");
    EXPECT_EQ(format_text(*msg),
              "Signal ch=7 id=42 more=0 origin=engine status=channel_closed headers{~reason=\"success\"} "
              "body[0]=\"\"");
}

TEST(CliPrint, TextEscapesWhatWouldBreakTheLine) {
    const MessagePtr msg = sample(OpCode::signal, "say \"hi\"\\\n\tdone\r");
    EXPECT_EQ(
        format_text(*msg),
        "Signal ch=7 id=42 more=0 origin=application headers{} body[16]=\"say \\\"hi\\\"\\\\\\n\\tdone\\r\"");
}

TEST(CliPrint, BinaryBodyPrintsAsHex) {
    const MessagePtr msg = sample(OpCode::response, std::string_view{"\x00\xFF\x10\xAB", 4});
    EXPECT_EQ(format_text(*msg),
              "Response ch=7 id=42 more=0 origin=application headers{} body[4]=hex:00ff10ab");
}

TEST(CliPrint, MaxBodyShowsTheFirstBytesThenDots) {
    const MessagePtr text = sample(OpCode::signal, "hello, tofu");
    EXPECT_TRUE(format_text(*text, 5).ends_with(" body[11]=\"hello\"..."));
    EXPECT_TRUE(format_text(*text, 11).ends_with(" body[11]=\"hello, tofu\""));  // fits: no dots
    EXPECT_TRUE(format_text(*text, 0).ends_with(" body[11]=\"hello, tofu\""));   // 0: no limit
    const MessagePtr binary = sample(OpCode::signal, std::string_view{"\x00\x01\x02\x03", 4});
    EXPECT_TRUE(format_text(*binary, 2).ends_with(" body[4]=hex:0001..."));
    // Text or hex is chosen for the whole body, even when the part shown would read as text.
    const MessagePtr mixed = sample(OpCode::signal, std::string_view{"ab\x00", 3});
    EXPECT_TRUE(format_text(*mixed, 2).ends_with(" body[3]=hex:6162..."));
}

TEST(CliPrint, HeaderNamesCannotForgeFields) {
    MessagePtr msg = sample(OpCode::signal, "");
    msg->thdrs.assign_raw(std::as_bytes(std::span{std::string_view{"a b=c}:\x01v\r\n"}}));
    EXPECT_EQ(
        format_text(*msg),
        "Signal ch=7 id=42 more=0 origin=application headers{a\\x20b\\x3dc\\x7d=\"\\x01v\"} body[0]=\"\"");
}

TEST(CliPrint, JsonHasEveryField) {
    MessagePtr msg = sample(OpCode::request, "hello");
    msg->bhdr.proto.more = true;
    msg->thdrs.append("Job", "print");
    const auto json = nlohmann::json::parse(format_json(*msg));
    EXPECT_EQ(json.at("op"), "Request");
    EXPECT_EQ(json.at("op_code"), 0);
    EXPECT_EQ(json.at("channel"), 7);
    EXPECT_EQ(json.at("message_id"), 42);
    EXPECT_EQ(json.at("more"), true);
    EXPECT_EQ(json.at("origin"), "application");
    EXPECT_EQ(json.at("status"), "success");
    ASSERT_EQ(json.at("headers").size(), 1U);
    EXPECT_EQ(json.at("headers")[0].at("name"), "Job");
    EXPECT_EQ(json.at("headers")[0].at("value"), "print");
    EXPECT_EQ(json.at("body_size"), 5);
    EXPECT_EQ(json.at("body_encoding"), "text");
    EXPECT_EQ(json.at("body"), "hello");
}

TEST(CliPrint, JsonBinaryBodyIsHexAndBadUtf8InHeadersIsReplaced) {
    MessagePtr msg = sample(OpCode::signal, std::string_view{"\x00\x01", 2});
    msg->thdrs.append("Name", "bad\xFF");
    const std::string line = format_json(*msg);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    const auto json = nlohmann::json::parse(line);
    EXPECT_EQ(json.at("body_encoding"), "hex");
    EXPECT_EQ(json.at("body"), "0001");
    EXPECT_EQ(json.at("headers")[0].at("value"), "bad\xEF\xBF\xBD");
}

TEST(CliPrint, JsonKeepsTextWithNewlinesOnOneLine) {
    const MessagePtr msg = sample(OpCode::signal, "two\nlines");
    const std::string line = format_json(*msg);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_EQ(nlohmann::json::parse(line).at("body"), "two\nlines");
}

}  // namespace
}  // namespace tofu::cli

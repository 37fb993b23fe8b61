#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <tofu/tofu.hpp>

#include "message/reserved_headers.hpp"

namespace tofu {
namespace {

std::vector<std::pair<std::string, std::string>> all(const TextHeaders& h) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const TextHeader th : h) {
        out.emplace_back(th.name, th.value);
    }
    return out;
}

TextHeaders raw(std::string_view text) {
    TextHeaders h;
    h.assign_raw(std::as_bytes(std::span{text}));
    return h;
}

TEST(TextHeaders, AppendWritesTheWireForm) {
    TextHeaders h;
    h.append("Content-Type", "application/pdf");
    h.append("Progress", "[3:10]");
    EXPECT_EQ(h.text(), "Content-Type:application/pdf\r\nProgress:[3:10]\r\n");
    EXPECT_EQ(h.size(), h.text().size());
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(all(h), (Pairs{{"Content-Type", "application/pdf"}, {"Progress", "[3:10]"}}));
}

TEST(TextHeaders, EmptyValueIsAllowed) {
    TextHeaders h;
    h.append("Empty", "");
    ASSERT_TRUE(h.find("Empty").has_value());
    EXPECT_EQ(*h.find("Empty"), "");
}

TEST(TextHeaders, FindIsCaseInsensitiveAndReturnsTheFirst) {
    TextHeaders h;
    h.append("PDL", "PDF");
    h.append("pdl", "PS");
    EXPECT_EQ(h.find("pdl"), "PDF");
    EXPECT_EQ(h.find("Pdl"), "PDF");
    EXPECT_FALSE(h.find("PD").has_value());
    EXPECT_FALSE(h.find("PDLX").has_value());
    EXPECT_FALSE(TextHeaders{}.find("PDL").has_value());
}

TEST(TextHeaders, ReaderIsTolerant) {
    // Blanks around names and values, a bare LF, empty lines, a line without a colon, a line
    // with an empty name and a last line without its line end.
    const TextHeaders h = raw(" Name\t: value one \r\n\r\n\nno colon here\r\n:nameless\r\nB:2\nlast: x");
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(all(h), (Pairs{{"Name", "value one"}, {"B", "2"}, {"last", "x"}}));
    EXPECT_EQ(h.find("name"), "value one");
}

TEST(TextHeaders, LinesWithAStrayCarriageReturnAreSkipped) {
    // Found by fuzz_text_headers: a value read with a CR in it could not be written back by
    // `append`, and would smuggle a line break into whatever the application writes it to.
    const TextHeaders h = raw("a:1\r\x1a\r\nb\r:2\r\nc:3\rd:4\nok:5\r\n");
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(all(h), (Pairs{{"ok", "5"}}));
    for (const TextHeader th : h) {
        TextHeaders copy;
        EXPECT_NO_THROW(copy.append(th.name, th.value));
    }
}

TEST(TextHeaders, ALastLineWithoutItsLineBreakReadsBackEvenWhenAppendingItWouldPassTheLimit) {
    // Found by fuzz_text_headers: the reader takes a last line without CR LF, so a header filling
    // the part limit reads, while `append`, which writes the CR LF, refuses it as too long.
    const std::string value(max_part_size - 2, 'v');
    const TextHeaders h = raw("k:" + value);
    ASSERT_EQ(h.find("k"), value);
    TextHeaders copy;
    try {
        copy.append("k", value);
        ADD_FAILURE() << "a header line of " << max_part_size + 2 << " bytes was appended";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), AmpeStatus::invalid_headers_len) << e.what();
    }
}

TEST(TextHeaders, ValueMayHoldColons) {
    const TextHeaders h = raw("~connect_to:tcp|::1|7099\r\nurl:http://x:80/\r\n");
    EXPECT_EQ(h.find("~connect_to"), "tcp|::1|7099");
    EXPECT_EQ(h.find("url"), "http://x:80/");
}

TEST(TextHeaders, IteratorsCompareAndAdvance) {
    const TextHeaders h = raw("a:1\r\nb:2\r\n");
    auto it = h.begin();
    ASSERT_NE(it, h.end());
    EXPECT_EQ((*it).name, "a");
    auto old = it++;
    EXPECT_EQ((*old).name, "a");
    EXPECT_EQ((*it).name, "b");
    ++it;
    EXPECT_EQ(it, h.end());
    EXPECT_EQ(TextHeaders{}.begin(), TextHeaders{}.end());
    EXPECT_EQ(raw("\r\n\r\nnothing\r\n").begin(), raw("").end());
}

TEST(TextHeaders, BadNamesAndValuesAreRefused) {
    TextHeaders h;
    for (const std::string_view name : {"", "a:b", "a\rb", "a\nb"}) {
        try {
            h.append(name, "v");
            FAIL() << "accepted name '" << name << "'";
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), AmpeStatus::invalid_message);
        }
    }
    EXPECT_THROW(h.append("n", "line\r\nInjected:1"), Error);
    EXPECT_THROW(h.append("n", "x\n"), Error);
    EXPECT_TRUE(h.empty()) << "nothing was written by refused appends";
}

TEST(TextHeaders, LimitIs65535BytesWithAClearError) {
    TextHeaders h;
    const std::string value(max_part_size - 4, 'v');  // "k:" + value + CR LF = 65535 bytes
    h.append("k", value);
    EXPECT_EQ(h.size(), max_part_size);
    try {
        h.append("x", "");
        FAIL() << "no error past the limit";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), AmpeStatus::invalid_headers_len);
    }
    EXPECT_EQ(h.size(), max_part_size);
    const std::string too_long(max_part_size + 1, 'a');
    EXPECT_THROW(h.assign_raw(std::as_bytes(std::span{too_long})), Error);
}

TEST(TextHeaders, ResetEmptiesThem) {
    TextHeaders h;
    h.append("a", "1");
    h.reset();
    EXPECT_TRUE(h.empty());
    EXPECT_EQ(h.begin(), h.end());
}

TEST(TextHeaders, ReservedNames) {
    EXPECT_TRUE(is_reserved_header("~connect_to"));
    EXPECT_TRUE(is_reserved_header(header::listen_on));
    EXPECT_TRUE(is_reserved_header("~"));
    EXPECT_FALSE(is_reserved_header("connect_to"));
    EXPECT_FALSE(is_reserved_header(""));
    EXPECT_EQ(header::connect_to, "~connect_to");
    EXPECT_EQ(header::listen_on, "~listen_on");
}

// --- The engine's own edits (src/message/reserved_headers.hpp) ---------------------------------
// They run on the engine thread on blocks a peer chose: none may throw, none may grow a block past
// its limit.

using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(EngineHeaders, CleaningDropsReservedAndMalformedLinesAndKeepsTheRestByteForByte) {
    TextHeaders h = raw("a:1\n~peer:forged\r\nno colon here\r\n:no name\r\nb: 2 \r\nstray\rcr:x\r\n\r\nc:3");
    detail::clean_received_headers(h);
    EXPECT_EQ(h.text(), "a:1\nb: 2 \r\nc:3");
    EXPECT_EQ(all(h), (Pairs{{"a", "1"}, {"b", "2"}, {"c", "3"}}));
}

TEST(EngineHeaders, MalformedLinesGoEvenWithoutAReservedHeader) {
    TextHeaders h = raw("junk\r\nx:1\r\n");
    detail::clean_received_headers(h);
    EXPECT_EQ(h.text(), "x:1\r\n");
}

TEST(EngineHeaders, AWellFormedBlockIsLeftAlone) {
    const std::string text = "x:1\r\ny:2\n";
    TextHeaders h = raw(text);
    detail::clean_received_headers(h);
    EXPECT_EQ(h.text(), text);
}

TEST(EngineHeaders, CleaningABlockOfBareLineFeedsAtTheLimitNeverGrowsIt) {
    // The block of finding 2 in issue 26: rewritten with CR LF it grew past 65535 bytes.
    std::string text = "~:\n";
    while (text.size() + 3 <= max_part_size) {
        text += "a:\n";
    }
    TextHeaders h = raw(text);
    detail::clean_received_headers(h);
    EXPECT_EQ(h.size(), text.size() - 3);
    EXPECT_EQ(h.text(), std::string_view{text}.substr(3));
}

TEST(EngineHeaders, DropHeaderRemovesEveryLineOfThatNameAndNothingElse) {
    TextHeaders h = raw("~confirm:1\nKeep:me\r\n~CONFIRM:1\r\nodd line\r\n");
    detail::drop_header(h, "~confirm");
    EXPECT_EQ(h.text(), "Keep:me\r\nodd line\r\n");
}

TEST(EngineHeaders, AppendRefusesWhatDoesNotFitAndLeavesTheBlockAlone) {
    std::string text(max_part_size - 10, 'v');
    text.replace(0, 2, "k:");
    TextHeaders h = raw(text);
    EXPECT_FALSE(detail::append_header(h, "~peer", "tcp|127.0.0.1|40000"));
    EXPECT_EQ(h.size(), text.size());
    // 10 bytes left: an LF after the unterminated line, "~d:", CR LF, and 4 bytes of value.
    EXPECT_TRUE(detail::append_truncated(h, "~d", "a long explanation"));
    EXPECT_EQ(h.size(), max_part_size);
    EXPECT_EQ(all(h).back(), (std::pair<std::string, std::string>{"~d", "a..."}));
}

TEST(EngineHeaders, AppendSeparatesFromALastLineWithoutItsLineBreak) {
    TextHeaders h = raw("x:1");
    ASSERT_TRUE(detail::append_header(h, "~peer", "uds"));
    EXPECT_EQ(all(h), (Pairs{{"x", "1"}, {"~peer", "uds"}}));
    TextHeaders cr = raw("x:1\r");
    ASSERT_TRUE(detail::append_header(cr, "~peer", "uds"));
    EXPECT_EQ(all(cr), (Pairs{{"x", "1"}, {"~peer", "uds"}}));
}

TEST(EngineHeaders, LineBreaksInAValueAreEscapedSoTheyCannotMakeAHeader) {
    TextHeaders h;
    ASSERT_TRUE(detail::append_header(h, "~detail", "one\r\n~peer:forged"));
    EXPECT_EQ(all(h), (Pairs{{"~detail", "one\\r\\n~peer:forged"}}));
}

TEST(EngineHeaders, ATruncatedValueIsCutAtACharacterAndMarked) {
    TextHeaders h = raw(std::string(max_part_size - 20, 'x').replace(0, 2, "k:"));
    const std::string value = "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9";  // 8 x "é"
    ASSERT_TRUE(detail::append_truncated(h, "~d", value));
    const std::string shown{all(h).back().second};
    ASSERT_TRUE(shown.ends_with("...")) << shown;
    EXPECT_EQ((shown.size() - 3) % 2, 0U) << "cut inside a character: " << shown;
    EXPECT_LE(h.size(), max_part_size);
}

TEST(EngineHeaders, PublicAppendAlsoSeparatesFromALastLineWithoutItsLineBreak) {
    TextHeaders h = raw("x:1");
    h.append("y", "2");
    EXPECT_EQ(all(h), (Pairs{{"x", "1"}, {"y", "2"}}));
}

}  // namespace
}  // namespace tofu

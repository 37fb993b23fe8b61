// Wire hygiene (DESIGN.md section 2.4): a raw-socket peer sends a tofu listener frames a peer must
// never send (the golden `invalid_from_wire` vectors), as the first frame or after a valid Hello,
// plus garbage. That one connection must be closed and reported with `channel_closed` and a reason;
// nothing else is affected (an established tofu client and a new one keep working). The raw peer
// also checks what a tofu server writes: frames split or coalesced anywhere are read correctly, and
// what the server sends carries its own channel number, origin 0 and status 0.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "support/engine_helpers.hpp"
#include "support/wire_vectors.hpp"

namespace tofu::test {
namespace {

const ValidVector& valid_vector(const std::string& name) {
    const auto& all = wire_vectors().valid;
    const auto it =
        std::find_if(all.begin(), all.end(), [&](const ValidVector& v) { return v.name == name; });
    if (it == all.end()) {
        throw TestFailure{"no valid wire vector named " + name};
    }
    return *it;
}

const InvalidVector& invalid_vector(const std::string& name) {
    const auto& all = wire_vectors().invalid_from_wire;
    const auto it =
        std::find_if(all.begin(), all.end(), [&](const InvalidVector& v) { return v.name == name; });
    if (it == all.end()) {
        throw TestFailure{"no invalid wire vector named " + name};
    }
    return *it;
}

/// The invalid vectors' names, in the file's order, as tests/CMakeLists.txt read them from the
/// file (WireVectorNames checks them against it).
std::vector<std::string> invalid_vector_names() {
    return {
#include "invalid_vector_names.inc"
    };
}

bool is_truncated(const std::string& name) {
    return name.starts_with("truncated");
}

/// Where in the connection the bad frame comes.
enum class Position : std::uint8_t { first_frame, after_hello };

/// The reasons a `channel_closed` may name for a vector; empty means "any reason but success".
std::set<std::string> allowed_reasons(const std::string& name, Position position) {
    const auto names = [](std::initializer_list<AmpeStatus> statuses) {
        std::set<std::string> out;
        for (const AmpeStatus s : statuses) {
            out.emplace(status_name(s));
        }
        return out;
    };
    // A bad first frame is also "a first frame that is not HelloRequest" (not_allowed).
    if (name == "opcode_10" || name == "opcode_15") {
        return position == Position::after_hello
                   ? names({AmpeStatus::invalid_op_code})
                   : names({AmpeStatus::invalid_op_code, AmpeStatus::not_allowed});
    }
    if (name == "welcome_from_wire" || name == "welcome_response_from_wire" ||
        name == "byesignal_from_wire") {
        return names({AmpeStatus::invalid_op_code, AmpeStatus::not_allowed});
    }
    if (name == "more_on_hello") {
        return names({AmpeStatus::invalid_more_usage, AmpeStatus::not_allowed});
    }
    if (name.starts_with("message_id_zero")) {
        // Even a HelloRequest: the id is checked with the frame's header, before anything else.
        return names({AmpeStatus::invalid_message_id});
    }
    if (name == "reserved_bit_7") {
        return names({AmpeStatus::invalid_message});
    }
    if (is_truncated(name)) {
        // The peer left inside a frame: the frame is dropped, the peer is simply gone.
        return names({AmpeStatus::peer_disconnected});
    }
    return {};
}

void expect_reason(const Message& closed, const std::set<std::string>& allowed) {
    const std::string reason = reason_of(closed);
    if (allowed.empty()) {
        EXPECT_FALSE(reason.empty()) << describe(closed);
        EXPECT_NE(reason, status_name(AmpeStatus::success)) << describe(closed);
        return;
    }
    std::string list;
    for (const auto& r : allowed) {
        list += r + " ";
    }
    EXPECT_EQ(allowed.count(reason), 1U)
        << "reason '" << reason << "' is not one of: " << list << "(" << describe(closed) << ")";
}

/// A tofu server with one established tofu client, and a raw peer's view of it.
class WireFixture {
protected:
    void start(Transport transport) {
        server_engine_ = Reactor::create(Options{});
        client_engine_ = Reactor::create(Options{});
        server_ = server_engine_->create();
        client_ = client_engine_->create();
        listener_ = start_listener(*server_engine_, *server_, transport);
        good_ = establish(*client_engine_, *client_, *server_, listener_.client_address);
    }

    /// Sends a valid HelloRequest from `peer`, accepts it in the server group, reads and checks the
    /// HelloResponse frame. Returns the server's channel number for the raw connection.
    std::uint16_t raw_hello(RawPeer& peer, std::uint64_t id) {
        if (!peer.send(hello_frame(7, id, "x-raw:yes\r\n", "raw hello body"))) {
            throw TestFailure{"the server closed the raw connection before its Hello"};
        }
        MessagePtr hello = wait_hello_request(*server_);
        EXPECT_EQ(hello->bhdr.message_id, id);
        EXPECT_EQ(header_value(*hello, "x-raw"), "yes");
        EXPECT_EQ(hello->body.text(), "raw hello body");
        const std::uint16_t channel = accept_hello(*server_, std::move(hello));
        EXPECT_NE(channel, good_.server);
        EXPECT_NE(channel, listener_.channel);

        const std::optional<RawFrame> response = peer.read_frame();
        if (!response) {
            throw TestFailure{"the server closed the raw connection instead of answering its Hello"};
        }
        expect_conforming(response->header, OpCode::hello_response, channel, id);
        return channel;
    }

    /// What a tofu server writes: its own channel number, origin 0, status 0, no stray flags.
    static void expect_conforming(const BinaryHeader& h, OpCode op, std::uint16_t channel, std::uint64_t id) {
        EXPECT_EQ(h.proto.op_code, op);
        EXPECT_EQ(h.channel_number, channel) << "the wire carries the sender's local channel number";
        EXPECT_EQ(h.message_id, id);
        EXPECT_EQ(h.proto.origin, Origin::application) << "a conforming sender writes origin 0";
        EXPECT_EQ(h.status, AmpeStatus::success) << "a conforming sender writes status 0";
        EXPECT_FALSE(h.proto.more);
        EXPECT_FALSE(h.proto.oob);
    }

    /// Waits for the server group's `channel_closed` of the raw connection: on `channel` when the
    /// app knows it, else on any channel that is neither the listener nor the good connection.
    /// Checks that nothing happened to those two meanwhile, and returns the report.
    MessagePtr wait_raw_closed(std::optional<std::uint16_t> channel, std::vector<MessagePtr>& before) {
        MessagePtr closed = wait_for(
            *server_,
            [&](const Message& m) {
                if (!is_any_channel_closed(m)) {
                    return false;
                }
                return channel ? m.bhdr.channel_number == *channel
                               : m.bhdr.channel_number != good_.server &&
                                     m.bhdr.channel_number != listener_.channel;
            },
            "channel_closed of the raw peer's connection", &before);
        EXPECT_NE(closed->bhdr.channel_number, unassigned_channel) << describe(*closed);
        EXPECT_EQ(count_channel_closed(before, good_.server), 0U) << "the good connection was closed too";
        EXPECT_EQ(count_channel_closed(before, listener_.channel), 0U) << "the listener was closed";
        return closed;
    }

    /// The established client still talks, and a new client still connects.
    void expect_others_unaffected() {
        round_trip(*client_engine_, *client_, *server_, good_, "established client after the violation");
        ChannelGroupPtr fresh = client_engine_->create();
        const Connection next = establish(*client_engine_, *fresh, *server_, listener_.client_address);
        round_trip(*client_engine_, *fresh, *server_, next, "new client after the violation");
        close_gracefully(*client_engine_, *fresh, next.client, *server_, next.server);
    }

    std::unique_ptr<Reactor> server_engine_;
    std::unique_ptr<Reactor> client_engine_;
    ChannelGroupPtr server_;
    ChannelGroupPtr client_;
    Listener listener_;
    Connection good_;
};

// --- the invalid_from_wire vectors ---------------------------------------------------------------

using InvalidFrameParam = std::tuple<Transport, std::string, Position>;

class InvalidFrameTest : public WireFixture, public ::testing::TestWithParam<InvalidFrameParam> {
protected:
    void SetUp() override {
        if (const auto why = transport_unavailable(std::get<0>(GetParam()))) {
            GTEST_SKIP() << *why;
        }
        start(std::get<0>(GetParam()));
    }
};

TEST_P(InvalidFrameTest, ClosesAndReportsOnlyThatConnection) {
    const std::string& name = std::get<1>(GetParam());
    const Position position = std::get<2>(GetParam());
    const InvalidVector& vector = invalid_vector(name);
    SCOPED_TRACE(name + ": " + vector.why);

    RawPeer peer{listener_.client_address};
    std::optional<std::uint16_t> channel;
    if (position == Position::after_hello) {
        channel = raw_hello(peer, 0x0102'0304'0506'0708);
    }
    // The server may close as soon as it has read enough to judge; a failed send is fine then.
    (void)peer.send(vector.frame);
    if (is_truncated(name)) {
        peer.shutdown_write();  // the rest of the frame never comes
    }

    std::vector<MessagePtr> before;
    MessagePtr closed = wait_raw_closed(channel, before);
    expect_reason(*closed, allowed_reasons(name, position));
    for (const MessagePtr& m : before) {
        EXPECT_TRUE(m->is_from_engine())
            << "the bad frame (or a first frame before a Hello) reached the app: " << describe(*m);
    }
    EXPECT_NO_THROW((void)peer.wait_closed()) << "the server did not close the raw connection";

    // Exactly one report for that channel.
    EXPECT_EQ(count_channel_closed(drain(*server_), closed->bhdr.channel_number), 0U);
    expect_others_unaffected();
}

TEST(WireVectorNames, AreTheInvalidVectorsOfTheGoldenFile) {
    std::vector<std::string> in_file;
    for (const InvalidVector& v : wire_vectors().invalid_from_wire) {
        in_file.push_back(v.name);
    }
    EXPECT_FALSE(in_file.empty());
    EXPECT_EQ(invalid_vector_names(), in_file) << "reconfigure: the build read another wire_vectors.json";
}

std::string invalid_frame_test_name(const ::testing::TestParamInfo<InvalidFrameParam>& info) {
    return std::string{transport_name(std::get<0>(info.param))} + "_" + std::get<1>(info.param) + "_" +
           (std::get<2>(info.param) == Position::first_frame ? "as_first_frame" : "after_hello");
}

INSTANTIATE_TEST_SUITE_P(Vectors, InvalidFrameTest,
                         ::testing::Combine(::testing::ValuesIn(with_tls(tcp4_and_uds_transports())),
                                            ::testing::ValuesIn(invalid_vector_names()),
                                            ::testing::Values(Position::first_frame, Position::after_hello)),
                         invalid_frame_test_name);

// --- other violations and what a conforming peer sees --------------------------------------------

class WireHygieneTest : public WireFixture, public ::testing::TestWithParam<Transport> {
protected:
    void SetUp() override {
        if (const auto why = transport_unavailable(GetParam())) {
            GTEST_SKIP() << *why;
        }
        start(GetParam());
    }
};

TEST_P(WireHygieneTest, FirstFrameThatIsNotHelloIsNotAllowed) {
    RawPeer peer{listener_.client_address};
    (void)peer.send(valid_vector("request_body").frame);
    std::vector<MessagePtr> before;
    MessagePtr closed = wait_raw_closed(std::nullopt, before);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::not_allowed)) << describe(*closed);
    for (const MessagePtr& m : before) {
        EXPECT_TRUE(m->is_from_engine()) << "a Request before any Hello reached the app: " << describe(*m);
    }
    EXPECT_NO_THROW((void)peer.wait_closed());
    expect_others_unaffected();
}

TEST_P(WireHygieneTest, GarbageAfterAnAcceptedHelloClosesTheChannel) {
    const std::vector<std::vector<std::byte>> garbage{std::vector<std::byte>(256, std::byte{0xFF}),
                                                      pattern_bytes(4096, 99)};
    for (std::size_t i = 0; i < garbage.size(); ++i) {
        SCOPED_TRACE("garbage #" + std::to_string(i));
        RawPeer peer{listener_.client_address};
        const std::uint16_t channel = raw_hello(peer, 1000 + i);
        (void)peer.send(garbage[i]);
        peer.shutdown_write();  // garbage that announces a long frame ends here
        std::vector<MessagePtr> before;
        MessagePtr closed = wait_raw_closed(channel, before);
        expect_reason(*closed, {});
        EXPECT_NO_THROW((void)peer.wait_closed());
    }
    expect_others_unaffected();
}

TEST_P(WireHygieneTest, GarbageRightBehindAHelloClosesTheChannel) {
    RawPeer peer{listener_.client_address};
    std::vector<std::byte> bytes = hello_frame(3, 77);
    bytes.insert(bytes.end(), 64, std::byte{0xFF});
    (void)peer.send(bytes);
    peer.shutdown_write();
    std::vector<MessagePtr> before;
    MessagePtr closed = wait_raw_closed(std::nullopt, before);
    expect_reason(*closed, {});
    // If the Hello was delivered before the garbage was judged, it was on the closed channel.
    for (const MessagePtr& m : before) {
        if (m->bhdr.proto.op_code == OpCode::hello_request && !m->is_from_engine()) {
            EXPECT_EQ(m->bhdr.channel_number, closed->bhdr.channel_number) << describe(*m);
        }
    }
    EXPECT_NO_THROW((void)peer.wait_closed());
    expect_others_unaffected();
}

TEST_P(WireHygieneTest, NoReservedHeaderAnApplicationPostsGoesOnTheWire) {
    // An application that answers a HelloRequest with the message itself (as `tofu echo` does)
    // posts the `~peer` and `~listener` its engine added; its own `~` headers go nowhere either.
    RawPeer peer{listener_.client_address};
    ASSERT_TRUE(peer.send(hello_frame(7, 1)));
    MessagePtr hello = wait_hello_request(*server_);
    ASSERT_TRUE(hello->thdrs.find(header::peer).has_value()) << describe(*hello);
    const std::uint16_t channel = hello->bhdr.channel_number;
    hello->bhdr.proto.op_code = OpCode::hello_response;
    hello->thdrs.append("x-app", "kept");
    (void)server_->post(hello);
    MessagePtr request = make_message(*server_engine_, OpCode::request, channel, 2, "body");
    request->thdrs.append("~x-engine-only", "1");
    request->thdrs.append("x-app", "kept");
    (void)server_->post(request);

    for (const OpCode op : {OpCode::hello_response, OpCode::request}) {
        const std::optional<RawFrame> frame = peer.read_frame();
        ASSERT_TRUE(frame.has_value()) << "the server closed the raw connection";
        EXPECT_EQ(frame->header.proto.op_code, op);
        const std::string text{frame->text_headers_text()};
        EXPECT_EQ(text.find('~'), std::string::npos) << text;
        EXPECT_NE(text.find("x-app:kept\r\n"), std::string::npos) << text;
    }
    expect_others_unaffected();
}

TEST_P(WireHygieneTest, SplitAndCoalescedFramesAreReadExactly) {
    RawPeer peer{listener_.client_address};

    // A Hello split into one-byte writes.
    constexpr std::uint64_t hello_id = 0xC0FFEE;
    ASSERT_TRUE(peer.send_byte_by_byte(hello_frame(11, hello_id, "x-raw:split\r\n", "split hello")));
    MessagePtr hello = wait_hello_request(*server_);
    EXPECT_EQ(hello->bhdr.message_id, hello_id);
    EXPECT_EQ(header_value(*hello, "x-raw"), "split");
    EXPECT_EQ(hello->body.text(), "split hello");
    const std::uint16_t channel = accept_hello(*server_, std::move(hello));
    const std::optional<RawFrame> hello_response = peer.read_frame();
    ASSERT_TRUE(hello_response.has_value()) << "no HelloResponse";
    expect_conforming(hello_response->header, OpCode::hello_response, channel, hello_id);

    // Two golden frames in one write.
    const ValidVector& request = valid_vector("request_body");
    const ValidVector& signal = valid_vector("signal_empty");
    std::vector<std::byte> both = request.frame;
    both.insert(both.end(), signal.frame.begin(), signal.frame.end());
    ASSERT_TRUE(peer.send(both));

    MessagePtr got_request = wait_for_op(*server_, OpCode::request, channel);
    EXPECT_EQ(got_request->bhdr.message_id, request.header.message_id);
    EXPECT_TRUE(std::ranges::equal(got_request->body.data(), std::span<const std::byte>{request.body}));
    MessagePtr got_signal = wait_for_op(*server_, OpCode::signal, channel);
    EXPECT_EQ(got_signal->bhdr.message_id, signal.header.message_id);
    EXPECT_TRUE(got_signal->body.empty());

    // The server's Response, as the raw peer reads it.
    make_answer(*got_request);
    got_request->thdrs.append("x-answer", "raw");
    got_request->body.copy("answer for the raw peer");
    (void)server_->post(got_request);
    const std::optional<RawFrame> response = peer.read_frame();
    ASSERT_TRUE(response.has_value()) << "no Response";
    expect_conforming(response->header, OpCode::response, channel, request.header.message_id);
    EXPECT_EQ(response->body_text(), "answer for the raw peer");
    EXPECT_EQ(response->text_headers_text(), "x-answer:raw\r\n");

    // A graceful close started by the raw peer.
    const ValidVector& bye = valid_vector("bye_request");
    ASSERT_TRUE(peer.send(bye.frame));
    MessagePtr got_bye = wait_for_op(*server_, OpCode::bye_request, channel);
    EXPECT_EQ(got_bye->bhdr.message_id, bye.header.message_id);
    make_answer(*got_bye);
    (void)server_->post(got_bye);
    const std::optional<RawFrame> bye_response = peer.read_frame();
    ASSERT_TRUE(bye_response.has_value()) << "no ByeResponse before the close";
    expect_conforming(bye_response->header, OpCode::bye_response, channel, bye.header.message_id);
    EXPECT_NO_THROW((void)peer.wait_closed());
    MessagePtr closed = wait_channel_closed(*server_, channel);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::success)) << describe(*closed);
    expect_others_unaffected();
}

TEST_P(WireHygieneTest, PeerVanishingMidFrameIsReportedAsPeerDisconnected) {
    RawPeer peer{listener_.client_address};
    const std::uint16_t channel = raw_hello(peer, 5);
    const std::vector<std::byte>& frame = valid_vector("response_headers_body").frame;
    (void)peer.send(std::span<const std::byte>{frame}.first(frame.size() / 2));
    peer.shutdown_write();
    std::vector<MessagePtr> before;
    MessagePtr closed = wait_raw_closed(channel, before);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);
    EXPECT_NE(header_value(*closed, header::detail), "<missing>")
        << "a stream that ends inside a frame is worth a ~detail: " << describe(*closed);
    for (const MessagePtr& m : before) {
        EXPECT_FALSE(m->bhdr.channel_number == channel && !m->is_from_engine())
            << "half a frame reached the app: " << describe(*m);
    }
    expect_others_unaffected();
}

INSTANTIATE_TEST_SUITE_P(Transports, WireHygieneTest,
                         ::testing::ValuesIn(with_tls(tcp4_and_uds_transports())), transport_test_name);

}  // namespace
}  // namespace tofu::test

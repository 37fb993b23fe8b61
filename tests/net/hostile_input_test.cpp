// Single frames built to hurt the engine: text headers at the 65,535-byte limit, where the
// engine's own edits (adding `~peer`, dropping `~` headers) once overflowed and threw out of the
// engine loop, stopping every channel. Each must close at most the connection it came on, and the
// engine must go on serving an established client. (Message id 0 and the reserved proto bit are
// golden `invalid_from_wire` vectors: tests/net/wire_hygiene_test.cpp.)
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/received.hpp>
#include <tofu/status.hpp>

#include "support/engine_helpers.hpp"

namespace tofu::test {
namespace {

/// `~connect_to:tcp|127.0.0.1|1` CR LF, as `hello_frame` writes it before the extra headers.
constexpr std::size_t hello_address_size = 29;

/// Header lines `name:vvv...` CR LF filling exactly `size` bytes (at least 4).
std::string filler_headers(std::size_t size) {
    std::string out;
    for (std::size_t i = 0; size - out.size() > 1004; ++i) {
        std::string line = "f" + std::to_string(i) + ":";
        line.resize(998, 'v');
        out += line + "\r\n";
    }
    out += "x:" + std::string(size - out.size() - 4, 'v') + "\r\n";
    return out;
}

class HostileInputTest : public ::testing::TestWithParam<Transport> {
protected:
    void SetUp() override {
        if (const auto why = transport_unavailable(GetParam())) {
            GTEST_SKIP() << *why;
        }
        server_engine_ = Reactor::create(Options{});
        client_engine_ = Reactor::create(Options{});
        server_ = server_engine_->create();
        client_ = client_engine_->create();
        listener_ = start_listener(*server_engine_, *server_, GetParam());
        good_ = establish(*client_engine_, *client_, *server_, listener_.client_address);
    }

    /// The engine still serves the established client, and its listener still accepts.
    void expect_still_serving(std::string_view after) {
        round_trip(*client_engine_, *client_, *server_, good_, after);
        ChannelGroupPtr another = client_engine_->create();
        const Connection fresh = establish(*client_engine_, *another, *server_, listener_.client_address);
        round_trip(*client_engine_, *another, *server_, fresh, after);
    }

    std::unique_ptr<Reactor> server_engine_;
    std::unique_ptr<Reactor> client_engine_;
    ChannelGroupPtr server_;
    ChannelGroupPtr client_;
    Listener listener_;
    Connection good_;
};

TEST_P(HostileInputTest, AHelloWithNoRoomLeftForPeerIsRefusedAndOnlyItsConnectionCloses) {
    RawPeer peer{listener_.client_address};
    // 65,530 bytes of headers (no `~connect_to`: the server has no use for it, and drops it):
    // `~listener` and `~peer` (over 20 bytes however short the address) cannot follow.
    BinaryHeader h;
    h.proto.op_code = OpCode::hello_request;
    h.message_id = 1;
    ASSERT_TRUE(peer.send(encode_frame(h, filler_headers(max_part_size - 5), {})));
    std::vector<MessagePtr> seen;
    const MessagePtr closed = wait_for(*server_, is_any_channel_closed, "the refused Hello's close", &seen);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::invalid_headers_len)) << describe(*closed);
    EXPECT_NE(closed->bhdr.channel_number, listener_.channel);
    for (const MessagePtr& m : seen) {
        EXPECT_NE(m->bhdr.proto.op_code, OpCode::hello_request)
            << "delivered without ~peer: " << describe(*m);
    }
    EXPECT_EQ(peer.wait_closed(), 0U) << "the refused peer was sent something";
    expect_still_serving("after a Hello at the header limit");
}

TEST_P(HostileInputTest, AHelloWithRoomForPeerIsDeliveredWithItLast) {
    RawPeer peer{listener_.client_address};
    const std::string filler = filler_headers(max_part_size - 200 - hello_address_size);
    ASSERT_TRUE(peer.send(hello_frame(1, 1, filler + "last:line without its line break")));
    const MessagePtr hello = wait_hello_request(*server_);
    std::vector<TextHeader> headers{hello->thdrs.begin(), hello->thdrs.end()};
    ASSERT_GE(headers.size(), 3U);
    EXPECT_EQ(headers.back().name, header::peer);
    EXPECT_EQ(headers[headers.size() - 2].name, header::listener);
    EXPECT_EQ(header_value(*hello, "last"), "line without its line break");  // TLS names may follow it
    EXPECT_LE(hello->thdrs.size(), max_part_size);
    expect_still_serving("after a Hello near the header limit");
}

TEST_P(HostileInputTest, ReservedAndMalformedHeadersOfAFullBlockAreDroppedWithoutGrowingIt) {
    RawPeer peer{listener_.client_address};
    ASSERT_TRUE(peer.send(hello_frame(1, 1)));
    const std::uint16_t channel = accept_hello(*server_, wait_hello_request(*server_));
    ASSERT_TRUE(peer.read_frame());

    // Issue 26, finding 2: bare-LF lines and one `~` header; rewritten with CR LF, the block grew
    // past 65,535 bytes and the engine thread threw.
    const std::string bad = "~:\nnot a header\n";
    std::string headers = bad;
    while (headers.size() + 3 <= max_part_size) {
        headers += "a:\n";
    }
    BinaryHeader h;
    h.proto.op_code = OpCode::request;
    h.message_id = 5;
    ASSERT_TRUE(peer.send(encode_frame(h, headers, {})));
    const MessagePtr request = wait_for_op(*server_, OpCode::request, channel);
    EXPECT_EQ(request->bhdr.message_id, 5U);
    EXPECT_EQ(request->thdrs.size(), headers.size() - bad.size());  // both bad lines gone, the rest as sent
    std::size_t count = 0;
    for (const TextHeader th : request->thdrs) {
        EXPECT_EQ(th.name, "a");
        ++count;
    }
    EXPECT_EQ(count, (headers.size() - bad.size()) / 3);
    expect_still_serving("after a full block of bare-LF headers");
}

TEST_P(HostileInputTest, AHalfCloseEndsTheChannelAndNothingPostedAfterIsWritten) {
    // Issue 26, finding 6: tofu has no half-open channels. The end of the peer's stream closes the
    // channel once the engine reads it (`peer_disconnected`), on TCP as on a Unix socket; an answer
    // posted after that is refused, and the peer reads no frame, only the end of the connection.
    RawPeer peer{listener_.client_address};
    ASSERT_TRUE(peer.send(hello_frame(1, 1)));
    const std::uint16_t channel = accept_hello(*server_, wait_hello_request(*server_));
    ASSERT_TRUE(peer.read_frame());
    BinaryHeader h;
    h.proto.op_code = OpCode::request;
    h.message_id = 5;
    ASSERT_TRUE(peer.send(encode_frame(h, {}, bytes_of("last words"))));
    peer.shutdown_write();
    MessagePtr request = wait_for_op(*server_, OpCode::request, channel);
    EXPECT_EQ(request->body.text(), "last words");
    const MessagePtr closed = wait_channel_closed(*server_, channel);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);
    make_answer(*request);
    std::error_code refused;
    try {
        (void)server_->post(request);
    } catch (const Error& e) {
        refused = e.code();
    }
    EXPECT_EQ(refused, make_error_code(AmpeStatus::invalid_channel_number));
    EXPECT_EQ(peer.wait_closed(), 0U) << "the peer was sent something after its end";
    expect_still_serving("after a half-close");
}

TEST_P(HostileInputTest, AFrameCannotPoseAsAnEngineReportOrAWakeUp) {
    // A peer's frame with the origin bit set and each status: delivered with origin application,
    // and receiver_update (what only this side's update_receiver makes) read as unknown_error, so
    // tofu::classify sorts every one as from_peer.
    RawPeer peer{listener_.client_address};
    ASSERT_TRUE(peer.send(hello_frame(1, 1)));
    const std::uint16_t channel = accept_hello(*server_, wait_hello_request(*server_));
    ASSERT_TRUE(peer.read_frame());
    const AmpeStatus statuses[] = {AmpeStatus::receiver_update, AmpeStatus::channel_closed,
                                   AmpeStatus::pool_empty, AmpeStatus::accept_failed};
    std::uint64_t id = 10;
    for (const AmpeStatus status : statuses) {
        BinaryHeader h;
        h.proto.op_code = OpCode::signal;
        h.proto.origin = Origin::engine;
        h.status = status;
        h.message_id = id++;
        ASSERT_TRUE(peer.send(encode_frame(h, {}, {})));
    }
    for (const AmpeStatus status : statuses) {
        const MessagePtr got = wait_for_op(*server_, OpCode::signal, channel);
        EXPECT_EQ(classify(*got), Received::from_peer) << describe(*got);
        EXPECT_FALSE(got->is_from_engine()) << describe(*got);
        EXPECT_EQ(got->bhdr.status,
                  status == AmpeStatus::receiver_update ? AmpeStatus::unknown_error : status)
            << describe(*got);
    }
    expect_still_serving("after frames posing as the engine");
}

INSTANTIATE_TEST_SUITE_P(Transports, HostileInputTest,
                         ::testing::ValuesIn(with_tls(tcp4_and_uds_transports())), transport_test_name);

}  // namespace
}  // namespace tofu::test

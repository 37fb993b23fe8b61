// Hostile peers that follow the protocol too slowly or not at all: one that stops in the middle of
// a frame, and one that never reads what it is sent. A raw-socket peer plays each; the engine must
// keep serving an established tofu client meanwhile, must not spin while it waits, and must lose
// nothing once the peer goes on.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "support/engine_helpers.hpp"

namespace tofu::test {
namespace {

using namespace std::chrono_literals;

class HostilePeerTest : public ::testing::TestWithParam<Transport> {
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

    /// Connects a raw peer, sends its Hello and has the server accept it; returns the server's channel.
    std::uint16_t accepted_raw_peer(RawPeer& peer) {
        if (!peer.send(hello_frame(1, 1))) {
            throw TestFailure{"the server closed the raw connection before its Hello"};
        }
        const std::uint16_t channel = accept_hello(*server_, wait_hello_request(*server_));
        if (!peer.read_frame()) {
            throw TestFailure{"no HelloResponse for the raw peer"};
        }
        return channel;
    }

    std::unique_ptr<Reactor> server_engine_;
    std::unique_ptr<Reactor> client_engine_;
    ChannelGroupPtr server_;
    ChannelGroupPtr client_;
    Listener listener_;
    Connection good_;
};

TEST_P(HostilePeerTest, PeerStoppingMidFrameHoldsUpNobodyAndItsFrameArrivesWhole) {
    RawPeer slow{listener_.client_address};
    const std::uint16_t channel = accepted_raw_peer(slow);

    BinaryHeader h;
    h.proto.op_code = OpCode::request;
    h.message_id = 77;
    const std::vector<std::byte> body = pattern_bytes(300, 77);
    const std::vector<std::byte> frame = encode_frame(h, "x-slow:yes\r\n", body);
    const std::span<const std::byte> all{frame};

    // Everything but the last byte, one byte per segment; then the peer stops.
    ASSERT_TRUE(slow.send_byte_by_byte(all.first(all.size() - 1)));
    for (int i = 0; i < 10; ++i) {
        round_trip(*client_engine_, *client_, *server_, good_, "while a peer is stuck mid-frame");
    }
    expect_idle_second();

    ASSERT_TRUE(slow.send(all.last(1)));
    MessagePtr request = wait_for_op(*server_, OpCode::request, channel);
    EXPECT_EQ(request->bhdr.message_id, 77U);
    EXPECT_EQ(header_value(*request, "x-slow"), "yes");
    EXPECT_TRUE(matches_pattern(request->body.data(), body.size(), 77));
}

TEST_P(HostilePeerTest, PeerThatNeverReadsFillsOnlyItsOwnQueueAndLaterGetsEverythingInOrder) {
    RawPeer deaf{listener_.client_address, 60s};
    const std::uint16_t channel = accepted_raw_peer(deaf);

    // Far more than the socket buffers hold: the rest waits in the channel's send queue.
    constexpr std::size_t count = 200;
    constexpr std::size_t size = std::size_t{60} * 1024;
    for (std::size_t i = 1; i <= count; ++i) {
        MessagePtr m = make_message(*server_engine_, OpCode::signal, channel, i);
        m->body.copy(pattern_bytes(size, i));
        (void)server_->post(m);
    }
    for (int i = 0; i < 10; ++i) {
        round_trip(*client_engine_, *client_, *server_, good_, "while a peer does not read");
    }
    expect_idle_second();

    // The peer reads at last: every message, whole and in order, and nothing came back.
    for (std::size_t i = 1; i <= count; ++i) {
        const std::optional<RawFrame> f = deaf.read_frame();
        ASSERT_TRUE(f.has_value()) << "the connection ended before message " << i;
        ASSERT_EQ(f->header.message_id, i);
        ASSERT_TRUE(matches_pattern(f->body, size, i)) << "message " << i;
    }
    for (const MessagePtr& m : drain(*server_)) {
        EXPECT_FALSE(m->is_from_engine()) << "unexpected report: " << describe(*m);
    }
}

INSTANTIATE_TEST_SUITE_P(Transports, HostilePeerTest,
                         ::testing::ValuesIn(with_tls(tcp4_and_uds_transports())), transport_test_name);

}  // namespace
}  // namespace tofu::test

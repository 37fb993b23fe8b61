// Payloads of any size through two real engines (tofu/stream.hpp): post_stream on one side, a
// StreamAssembler on the other; the payload arrives byte for byte, over TCP and UDS, interleaved
// with another stream on the same channel, and through a pool far smaller than its parts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <future>
#include <istream>
#include <memory>
#include <span>
#include <stdexcept>
#include <streambuf>
#include <vector>

#include <tofu/tofu.hpp>

#include "support/engine_helpers.hpp"

namespace tofu::test {
namespace {

class StreamTest : public ::testing::TestWithParam<Transport> {
protected:
    void SetUp() override {
        if (const auto why = transport_unavailable(GetParam())) {
            GTEST_SKIP() << *why;
        }
    }

    /// Starts both engines (the client's with `client_options`) and connects them.
    void start(const Options& client_options = Options{}) {
        server_engine_ = Reactor::create(Options{});
        client_engine_ = Reactor::create(client_options);
        server_ = server_engine_->create();
        client_ = client_engine_->create();
        const Listener listener = start_listener(*server_engine_, *server_, GetParam());
        connection_ = establish(*client_engine_, *client_, *server_, listener.client_address);
    }

    /// A Request head on the client's channel.
    [[nodiscard]] MessagePtr head() const {
        return make_message(*client_engine_, OpCode::request, connection_.client);
    }

    /// Feeds the server's messages to `assembler` until `count` payloads are complete; fails on a
    /// drop or anything that is not from the peer but `pool_empty` (backpressure).
    std::vector<Payload> receive_payloads(StreamAssembler& assembler, std::size_t count) {
        std::vector<Payload> done;
        while (done.size() < count) {
            MessagePtr msg = receive(*server_);
            if (classify(*msg) == Received::report && msg->bhdr.status == AmpeStatus::pool_empty) {
                continue;
            }
            EXPECT_EQ(classify(*msg), Received::from_peer) << to_string(*msg);
            StreamStep step = assembler.add(std::move(msg));
            EXPECT_FALSE(step.drop) << stream_error_name(step.drop->error);
            if (step.drop) {
                break;
            }
            if (step.payload) {
                done.push_back(std::move(*step.payload));
            }
        }
        return done;
    }

    std::unique_ptr<Reactor> server_engine_;
    std::unique_ptr<Reactor> client_engine_;
    ChannelGroupPtr server_;
    ChannelGroupPtr client_;
    Connection connection_;
};

TEST_P(StreamTest, LargePayloadsArriveByteIdentical) {
    start();
    StreamAssembler assembler{StreamLimits{.max_payload = std::size_t{8} << 20U, .max_streams = 2}};
    for (const std::size_t size : {std::size_t{1} << 20U, std::size_t{5} << 20U}) {
        const std::vector<std::byte> payload = pattern_bytes(size, size);
        MessagePtr first = head();
        first->thdrs.append("Name", "big");
        auto sent = std::async(std::launch::async, [&, first = std::move(first)]() mutable {
            return post_stream(*client_engine_, *client_, std::move(first), std::span{payload});
        });
        std::vector<Payload> got = receive_payloads(assembler, 1);
        const StreamResult result = sent.get();
        EXPECT_TRUE(result.ok()) << status_name(result.status);
        EXPECT_EQ(result.bytes, size);
        EXPECT_EQ(result.parts, (size + max_part_size - 1) / max_part_size);
        ASSERT_EQ(got.size(), 1U);
        EXPECT_TRUE(same_bytes(got[0].bytes(), payload)) << size << " bytes";
        EXPECT_EQ(got[0].parts(), result.parts);
        EXPECT_EQ(got[0].message().bhdr.message_id, result.message_id);
        EXPECT_EQ(got[0].message().thdrs.find("Name"), "big");
    }
    EXPECT_EQ(assembler.open_streams(), 0U);
}

TEST_P(StreamTest, TwoStreamsInterleavedOnOneChannel) {
    start();
    // Stream B is posted by hand, one part each time stream A's source is read, so the two
    // streams' parts alternate on the wire.
    const std::vector<std::byte> a = pattern_bytes(300'000, 1);
    const std::vector<std::byte> b = pattern_bytes(100'000, 2);
    constexpr std::uint64_t b_id = std::uint64_t{1} << 60U;
    constexpr std::size_t part = 10'000;
    std::size_t a_offset = 0;
    std::size_t b_offset = 0;
    const auto post_b_part = [&] {
        const std::size_t n = std::min(part, b.size() - b_offset);
        MessagePtr msg = make_message(*client_engine_, OpCode::signal, connection_.client, b_id);
        msg->body.copy(std::span{b}.subspan(b_offset, n));
        b_offset += n;
        msg->bhdr.proto.more = b_offset < b.size();
        (void)client_->post(msg);
    };
    const PayloadSource source = [&](std::span<std::byte> out) {
        if (b_offset < b.size()) {
            post_b_part();
        }
        const std::size_t n = std::min(out.size(), a.size() - a_offset);
        std::copy_n(a.begin() + static_cast<std::ptrdiff_t>(a_offset), n, out.begin());
        a_offset += n;
        return n;
    };
    StreamAssembler assembler;
    auto sent = std::async(std::launch::async, [&] {
        return post_stream(*client_engine_, *client_, head(), source, StreamOptions{.part_size = part});
    });
    std::vector<Payload> got = receive_payloads(assembler, 2);
    const StreamResult result = sent.get();
    ASSERT_TRUE(result.ok()) << status_name(result.status);
    EXPECT_EQ(result.parts, a.size() / part + 1) << "a multiple of the part size ends with an empty part";
    ASSERT_EQ(got.size(), 2U);
    const Payload& first_done = got[0];  // B: its last part went out while A still had parts to go
    const Payload& second_done = got[1];
    EXPECT_EQ(first_done.message().bhdr.message_id, b_id);
    EXPECT_TRUE(same_bytes(first_done.bytes(), b));
    EXPECT_EQ(second_done.message().bhdr.message_id, result.message_id);
    EXPECT_TRUE(same_bytes(second_done.bytes(), a));
}

TEST_P(StreamTest, APoolSmallerThanThePartsLosesNothing) {
    Options small;
    small.initial_pool_msgs = 4;
    small.max_pool_msgs = 4;
    start(small);
    const std::vector<std::byte> payload = pattern_bytes(std::size_t{1} << 20U, 3);
    const StreamOptions options{.part_size = 4096};  // 256 parts through a pool of 4
    StreamAssembler assembler{StreamLimits{.max_payload = std::size_t{2} << 20U, .max_streams = 1}};
    auto sent = std::async(std::launch::async, [&] {
        return post_stream(*client_engine_, *client_, head(), std::span{payload}, options);
    });
    std::vector<Payload> got = receive_payloads(assembler, 1);
    const StreamResult result = sent.get();
    EXPECT_TRUE(result.ok()) << status_name(result.status);
    EXPECT_EQ(result.parts, payload.size() / options.part_size);  // a span knows where it ends: no empty part
    ASSERT_EQ(got.size(), 1U);
    EXPECT_TRUE(same_bytes(got[0].bytes(), payload));
}

TEST_P(StreamTest, AStreamOnAClosedChannelSaysHowFarItGot) {
    start();
    close_gracefully(*client_engine_, *client_, connection_.client, *server_, connection_.server);
    const std::vector<std::byte> payload = pattern_bytes(200'000, 4);
    const StreamResult result = post_stream(*client_engine_, *client_, head(), std::span{payload});
    EXPECT_EQ(result.status, AmpeStatus::invalid_channel_number);
    EXPECT_EQ(result.parts, 0U);
    EXPECT_EQ(result.bytes, 0U);
}

/// A stream buffer whose reads fail: the istream it backs goes bad.
class FailingBuffer : public std::streambuf {
protected:
    int_type underflow() override { throw std::runtime_error("the disk is gone"); }
};

TEST(PostStream, RefusesWhatItCannotStreamAndSaysSo) {
    const std::unique_ptr<Reactor> engine = Reactor::create(Options{});
    const ChannelGroupPtr group = engine->create();
    EXPECT_EQ(post_stream(*engine, *group, MessagePtr{}, "x").status, AmpeStatus::null_message);
    EXPECT_EQ(post_stream(*engine, *group, make_message(*engine, OpCode::hello_request, 0), "x").status,
              AmpeStatus::invalid_op_code);
    EXPECT_EQ(post_stream(*engine, *group, make_message(*engine, OpCode::request, 1), "x",
                          StreamOptions{.part_size = 0})
                  .status,
              AmpeStatus::not_allowed);
    FailingBuffer failing;
    std::istream bad{&failing};
    const StreamResult unreadable =
        post_stream(*engine, *group, make_message(*engine, OpCode::request, 1), bad);
    EXPECT_EQ(unreadable.status, AmpeStatus::processing_failed);
    EXPECT_EQ(unreadable.parts, 0U);
    const StreamResult nowhere = post_stream(*engine, *group, make_message(*engine, OpCode::request, 1), "x");
    EXPECT_EQ(nowhere.status, AmpeStatus::invalid_channel_number) << "no channel 1 in this group";
}

INSTANTIATE_TEST_SUITE_P(Transports, StreamTest, ::testing::ValuesIn(with_tls(tcp4_and_uds_transports())),
                         transport_test_name);

}  // namespace
}  // namespace tofu::test

// Delivery confirmations between engines, seen from the wire: a raw-socket peer plays the other
// engine (offering confirmations or not, confirming or not, confirming wrongly), so each rule of
// docs/wire.md ("Confirmations") is checked byte by byte against a real tofu engine.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>
#include <tofu/testing.hpp>

#include "message/frame_codec.hpp"
#include "support/engine_helpers.hpp"

namespace tofu::test {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view offer = "~confirm:1\r\n";

bool is_confirmation_of(const std::optional<RawFrame>& f, std::uint64_t count) {
    return f && f->header.proto.op_code == detail::confirmation_op && f->header.message_id == count &&
           f->text_headers.empty() && f->body.empty();
}

std::string describe_frame(const std::optional<RawFrame>& f) {
    if (!f) {
        return "the end of the connection";
    }
    return std::string{op_code_name(f->header.proto.op_code)} + " (op " +
           std::to_string(static_cast<int>(f->header.proto.op_code)) + ") id " +
           std::to_string(f->header.message_id);
}

/// A tofu server engine and a raw peer playing its client.
class ConfirmationTest : public ::testing::TestWithParam<Transport> {
protected:
    void SetUp() override {
        if (const auto why = transport_unavailable(GetParam())) {
            GTEST_SKIP() << *why;
        }
        engine_ = Reactor::create(Options{});
        server_ = engine_->create();
        listener_ = start_listener(*engine_, *server_, GetParam());
    }

    /// Connects the raw peer with a Hello (offering confirmations or not) and has the server
    /// accept it; reads what the server sends first: a confirmation of the Hello when offered,
    /// then the HelloResponse. Returns the server's channel.
    std::uint16_t accept_raw(RawPeer& peer, bool offering) {
        if (!peer.send(hello_frame(1, 1, offering ? offer : std::string_view{}))) {
            throw TestFailure{"the server closed the raw connection before its Hello"};
        }
        MessagePtr hello = wait_hello_request(*server_);
        EXPECT_FALSE(hello->thdrs.find("~confirm")) << "the offer is the engines' business";
        const std::uint16_t channel = accept_hello(*server_, std::move(hello));
        if (offering) {
            const std::optional<RawFrame> first = peer.read_frame();
            EXPECT_TRUE(is_confirmation_of(first, 1)) << "first came " << describe_frame(first);
        }
        const std::optional<RawFrame> response = peer.read_frame();
        EXPECT_TRUE(response && response->header.proto.op_code == OpCode::hello_response)
            << "then came " << describe_frame(response);
        return channel;
    }

    /// Posts Signals `first`..`last` (ids), each with a body, on `channel`.
    void post_signals(std::uint16_t channel, std::uint64_t first, std::uint64_t last) {
        for (std::uint64_t id = first; id <= last; ++id) {
            MessagePtr m =
                make_message(*engine_, OpCode::signal, channel, id, "signal " + std::to_string(id));
            (void)server_->post(m);
        }
    }

    /// Reads Signals `first`..`last` from the raw peer, in order.
    static void read_signals(RawPeer& peer, std::uint64_t first, std::uint64_t last) {
        for (std::uint64_t id = first; id <= last; ++id) {
            const std::optional<RawFrame> f = peer.read_frame();
            ASSERT_TRUE(f && f->header.proto.op_code == OpCode::signal && f->header.message_id == id)
                << "expected Signal " << id << ", got " << describe_frame(f);
        }
    }

    /// What came back to the server for `channel` before its `channel_closed` (returned here),
    /// each with status `returned`.
    MessagePtr closed_with(std::uint16_t channel, std::vector<std::uint64_t>& unconfirmed_ids,
                           AmpeStatus returned = AmpeStatus::peer_disconnected) {
        std::vector<MessagePtr> before;
        MessagePtr closed = wait_channel_closed(*server_, channel, &before);
        for (const MessagePtr& m : before) {
            if (m->bhdr.channel_number != channel || m->bhdr.proto.op_code != OpCode::signal ||
                !m->is_from_engine() || m->bhdr.status == AmpeStatus::pool_empty) {
                continue;
            }
            EXPECT_EQ(header_value(*m, header::unconfirmed), "1") << describe(*m);
            EXPECT_TRUE(m->body.empty())
                << "an unconfirmed message comes back as its header: " << describe(*m);
            EXPECT_EQ(m->bhdr.status, returned) << describe(*m);
            unconfirmed_ids.push_back(m->bhdr.message_id);
        }
        return closed;
    }

    std::unique_ptr<Reactor> engine_;
    ChannelGroupPtr server_;
    Listener listener_;
};

TEST_P(ConfirmationTest, AServerThatTakesTheOfferConfirmsTheHelloFirst) {
    RawPeer peer{listener_.client_address};
    (void)accept_raw(peer, true);  // checks the confirmation of 1 frame comes before the HelloResponse
}

TEST_P(ConfirmationTest, WithoutTheOfferNothingIsConfirmedAndAConfirmationIsAViolation) {
    RawPeer peer{listener_.client_address};
    const std::uint16_t channel = accept_raw(peer, false);
    post_signals(channel, 1, 40);  // more than a batch: a confirming engine would confirm by now
    read_signals(peer, 1, 40);

    ASSERT_TRUE(peer.send(confirmation_frame(1)));
    const MessagePtr closed = wait_channel_closed(*server_, channel);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::invalid_op_code)) << describe(*closed);
}

TEST_P(ConfirmationTest, WhatThePeerDidNotConfirmComesBackMarkedAndInOrder) {
    RawPeer peer{listener_.client_address};
    const std::uint16_t channel = accept_raw(peer, true);
    post_signals(channel, 1, 10);
    read_signals(peer, 1, 10);
    ASSERT_TRUE(peer.send(confirmation_frame(5)));  // the HelloResponse and Signals 1..4
    peer.reset();

    std::vector<std::uint64_t> unconfirmed;
    const MessagePtr closed = closed_with(channel, unconfirmed);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);
    EXPECT_EQ(unconfirmed, (std::vector<std::uint64_t>{5, 6, 7, 8, 9, 10}));
}

TEST_P(ConfirmationTest, EverythingConfirmedNothingComesBack) {
    RawPeer peer{listener_.client_address};
    const std::uint16_t channel = accept_raw(peer, true);
    post_signals(channel, 1, 10);
    read_signals(peer, 1, 10);
    ASSERT_TRUE(peer.send(confirmation_frame(11)));
    peer.reset();

    std::vector<std::uint64_t> unconfirmed;
    const MessagePtr closed = closed_with(channel, unconfirmed);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);
    EXPECT_TRUE(unconfirmed.empty()) << unconfirmed.size() << " came back";
}

TEST_P(ConfirmationTest, ACountBeyondWhatWasWrittenOrGoingBackClosesTheConnection) {
    for (const auto& [what, counts] : std::vector<std::pair<std::string, std::vector<std::uint64_t>>>{
             {"beyond", {5}}, {"backwards", {1, 0}}}) {
        RawPeer peer{listener_.client_address};
        const std::uint16_t channel = accept_raw(peer, true);  // one frame written: the HelloResponse
        for (const std::uint64_t count : counts) {
            ASSERT_TRUE(peer.send(confirmation_frame(count))) << what;
        }
        const MessagePtr closed = wait_channel_closed(*server_, channel);
        EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::invalid_message))
            << what << ": " << describe(*closed);
        EXPECT_NE(header_value(*closed, header::detail).find("confirmed"), std::string::npos)
            << describe(*closed);
    }
}

TEST_P(ConfirmationTest, ConfirmationsAreReadWhileThePoolIsDry) {
    RawPeer peer{listener_.client_address};
    const std::uint16_t channel = accept_raw(peer, true);
    post_signals(channel, 1, 4);
    read_signals(peer, 1, 4);
    // The application holds every idle message: nothing that needs one can be read now.
    std::vector<MessagePtr> held;
    while (MessagePtr m = engine_->get(AllocationStrategy::pool_only)) {
        held.push_back(std::move(m));
    }
    ASSERT_TRUE(peer.send(confirmation_frame(5)));
    peer.reset();

    // A confirmation needs no message, and neither does the end of the connection: the channel
    // closes with everything confirmed, while the pool is still dry, and never starves.
    std::vector<MessagePtr> before;
    const MessagePtr closed = wait_channel_closed(*server_, channel, &before);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);
    for (const MessagePtr& m : before) {
        EXPECT_FALSE(m->bhdr.channel_number == channel && m->is_from_engine()) << describe(*m);
    }
}

TEST_P(ConfirmationTest, TheByeResponderReportsTheCloseOnceThePeerConfirmedEverything) {
    RawPeer peer{listener_.client_address};
    const std::uint16_t channel = accept_raw(peer, true);
    post_signals(channel, 1, 3);
    read_signals(peer, 1, 3);
    BinaryHeader bye;
    bye.proto.op_code = OpCode::bye_request;
    bye.message_id = 99;
    ASSERT_TRUE(peer.send(encode_frame(bye, {}, {})));
    MessagePtr request = wait_for_op(*server_, OpCode::bye_request, channel);
    request->bhdr.proto.op_code = OpCode::bye_response;
    (void)server_->post(request);
    const std::optional<RawFrame> response = read_past_confirmations(peer);
    ASSERT_TRUE(response && response->header.proto.op_code == OpCode::bye_response)
        << describe_frame(response);

    // The ByeResponse is written, but the Signals before it are not confirmed: no close yet.
    for (const MessagePtr& m : until_posted_processed(*engine_, *server_)) {
        EXPECT_FALSE(is_channel_closed(*m, channel)) << "reported closed before the peer confirmed";
    }
    ASSERT_TRUE(peer.send(confirmation_frame(5)));  // HelloResponse, Signals 1..3, ByeResponse
    std::vector<std::uint64_t> unconfirmed;
    const MessagePtr closed = closed_with(channel, unconfirmed);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::success)) << describe(*closed);
    EXPECT_TRUE(unconfirmed.empty());
}

TEST_P(ConfirmationTest, TheByeResponderReturnsWhatAPeerThatLeftNeverConfirmed) {
    RawPeer peer{listener_.client_address};
    const std::uint16_t channel = accept_raw(peer, true);
    post_signals(channel, 1, 3);
    read_signals(peer, 1, 3);
    ASSERT_TRUE(peer.send(confirmation_frame(2)));  // HelloResponse and Signal 1
    BinaryHeader bye;
    bye.proto.op_code = OpCode::bye_request;
    bye.message_id = 99;
    ASSERT_TRUE(peer.send(encode_frame(bye, {}, {})));
    MessagePtr request = wait_for_op(*server_, OpCode::bye_request, channel);
    request->bhdr.proto.op_code = OpCode::bye_response;
    (void)server_->post(request);
    ASSERT_TRUE(read_past_confirmations(peer));  // the ByeResponse
    peer.shutdown_write();                       // leaves without a last confirmation

    std::vector<std::uint64_t> unconfirmed;
    const MessagePtr closed = closed_with(channel, unconfirmed);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);
    EXPECT_EQ(unconfirmed, (std::vector<std::uint64_t>{2, 3}));
}

/// A ByeResponse frame, as a peer answering (or not) a ByeRequest writes it.
std::vector<std::byte> bye_response_frame(std::uint64_t id) {
    BinaryHeader bye;
    bye.proto.op_code = OpCode::bye_response;
    bye.message_id = id;
    return encode_frame(bye, {}, {});
}

TEST_P(ConfirmationTest, AByeResponseConfirmsWhatWasWrittenBeforeOurByeRequest) {
    RawPeer peer{listener_.client_address};
    const std::uint16_t channel = accept_raw(peer, true);
    post_signals(channel, 1, 3);
    MessagePtr bye = make_message(*engine_, OpCode::bye_request, channel, 50, "");
    (void)server_->post(bye);
    read_signals(peer, 1, 3);
    const std::optional<RawFrame> request = read_past_confirmations(peer);
    ASSERT_TRUE(request && request->header.proto.op_code == OpCode::bye_request) << describe_frame(request);
    ASSERT_TRUE(peer.send(bye_response_frame(50)));  // no confirmation: the answer is one

    std::vector<std::uint64_t> unconfirmed;
    const MessagePtr closed = closed_with(channel, unconfirmed, AmpeStatus::send_failed);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::success)) << describe(*closed);
    EXPECT_TRUE(unconfirmed.empty()) << unconfirmed.size() << " came back";
}

TEST_P(ConfirmationTest, AByeResponseNobodyAskedForConfirmsNothing) {
    RawPeer peer{listener_.client_address};
    const std::uint16_t channel = accept_raw(peer, true);
    post_signals(channel, 1, 10);
    read_signals(peer, 1, 10);
    // The peer closes with a ByeResponse of its own accord: it dropped what it did not confirm.
    ASSERT_TRUE(peer.send(confirmation_frame(4)));  // the HelloResponse and Signals 1..3
    ASSERT_TRUE(peer.send(bye_response_frame(77)));

    std::vector<std::uint64_t> unconfirmed;
    const MessagePtr closed = closed_with(channel, unconfirmed, AmpeStatus::send_failed);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::success)) << describe(*closed);
    EXPECT_EQ(unconfirmed, (std::vector<std::uint64_t>{4, 5, 6, 7, 8, 9, 10}));
}

TEST_P(ConfirmationTest, NothingPastTheWindowIsWrittenAndAPeerThatNeverConfirmsIsClosedAfterTheTimeout) {
    constexpr std::uint32_t window = 64;
    constexpr std::uint64_t started = window / 2;  // Signals start an exchange: half the window
    server_.reset();
    engine_ = Reactor::create(Options{.max_unconfirmed_frames = window, .stall_timeout = 500ms});
    server_ = engine_->create();
    listener_ = start_listener(*engine_, *server_, GetParam());
    RawPeer peer{listener_.client_address};
    const std::uint16_t channel = accept_raw(peer, true);
    // The peer reads everything and confirms nothing: exactly what the window lets through of
    // Signals (half of it; Responses may fill it) reaches it, then the channel waits, and closes once the
    // confirmation timeout passes. Every Signal comes back: the window's marked unconfirmed, the rest as
    // never written.
    std::uint64_t read = 0;
    std::string reader_failure;
    std::jthread reader{[&peer, &read, &reader_failure] {  // until the engine resets the connection
        try {
            while (const std::optional<RawFrame> f = peer.read_frame()) {
                read += f->header.proto.op_code == OpCode::signal ? 1 : 0;
            }
        } catch (const TestFailure& e) {
            reader_failure = e.what();
        }
    }};
    constexpr std::uint64_t posted = std::uint64_t{3} * window;
    post_signals(channel, 1, posted);
    std::vector<MessagePtr> before;
    const MessagePtr closed = wait_channel_closed(*server_, channel, &before);
    reader.join();
    EXPECT_EQ(reader_failure, "");
    EXPECT_EQ(read, started) << "frames past the window were written";
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::communication_failed)) << describe(*closed);
    EXPECT_NE(header_value(*closed, header::detail).find("confirmed none"), std::string::npos)
        << describe(*closed);
    std::uint64_t unconfirmed = 0;
    std::uint64_t next_id = 1;
    for (const MessagePtr& m : before) {
        if (m->bhdr.channel_number != channel || !m->is_from_engine() ||
            m->bhdr.proto.op_code != OpCode::signal) {
            continue;
        }
        EXPECT_EQ(m->bhdr.message_id, next_id++) << "returned out of order";
        EXPECT_EQ(header_value(*m, header::unconfirmed) == "1", m->bhdr.message_id <= started)
            << describe(*m);
        unconfirmed += header_value(*m, header::unconfirmed) == "1" ? 1 : 0;
    }
    EXPECT_EQ(unconfirmed, started);
    EXPECT_EQ(next_id, posted + 1) << "every Signal posted comes back";
}

TEST_P(ConfirmationTest, AFullWindowOpensWhenThePeerConfirmsAndNothingIsClosed) {
    constexpr std::uint32_t window = 64;
    constexpr std::uint64_t started = window / 2;  // Signals start an exchange: half the window
    server_.reset();
    engine_ = Reactor::create(Options{.max_unconfirmed_frames = window, .stall_timeout = 0ms});
    server_ = engine_->create();
    listener_ = start_listener(*engine_, *server_, GetParam());
    RawPeer peer{listener_.client_address};
    const std::uint16_t channel = accept_raw(peer, true);
    post_signals(channel, 1, std::uint64_t{3} * started);
    // One window at a time: the peer reads it, confirms it (the HelloResponse and the Signals so
    // far), and the next window comes; confirmed, nothing comes back when the peer then leaves.
    for (std::uint64_t round = 0; round < 3; ++round) {
        read_signals(peer, round * started + 1, (round + 1) * started);
        ASSERT_TRUE(peer.send(confirmation_frame(1 + (round + 1) * started)));
    }
    peer.reset();
    std::vector<std::uint64_t> unconfirmed;
    const MessagePtr closed = closed_with(channel, unconfirmed);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);
    EXPECT_TRUE(unconfirmed.empty()) << unconfirmed.size() << " came back although confirmed";
}

INSTANTIATE_TEST_SUITE_P(Transports, ConfirmationTest, ::testing::ValuesIn(tcp4_and_uds_transports()),
                         transport_test_name);

/// A tofu client engine and a raw peer playing its server.
class ClientConfirmationTest : public ::testing::Test {
protected:
    ClientConfirmationTest() : engine_{Reactor::create(roomy())}, client_{engine_->create()} {}

    /// A pool big enough for every frame the raw server sends: the test does not read them.
    static Options roomy() {
        Options o;
        o.initial_pool_msgs = 128;
        o.max_pool_msgs = 128;
        return o;
    }

    /// Connects the client; the raw server reads its Hello (checking the offer) and answers,
    /// with a confirmation first when `confirming`. Returns the client's channel.
    std::uint16_t connect(bool confirming) {
        MessagePtr hello = hello_message(*engine_, raw_server_.client_address());
        const std::uint16_t channel = client_->post(hello).channel_number;
        peer_ = raw_server_.accept();
        const std::optional<RawFrame> h = peer_->read_frame();
        EXPECT_TRUE(h && h->header.proto.op_code == OpCode::hello_request) << describe_frame(h);
        EXPECT_NE(h->text_headers_text().find(offer), std::string_view::npos)
            << "no offer in the Hello: " << h->text_headers_text();
        if (confirming) {
            EXPECT_TRUE(peer_->send(confirmation_frame(1)));
        }
        BinaryHeader response;
        response.proto.op_code = OpCode::hello_response;
        response.message_id = h->header.message_id;
        EXPECT_TRUE(peer_->send(encode_frame(response, {}, {})));
        (void)wait_hello_response(*client_, channel);
        return channel;
    }

    std::unique_ptr<Reactor> engine_;
    ChannelGroupPtr client_;
    RawListener raw_server_;
    std::unique_ptr<RawPeer> peer_;
};

TEST_F(ClientConfirmationTest, AServerThatDoesNotConfirmIsDoneWithoutThem) {
    const std::uint16_t channel = connect(false);
    for (std::uint64_t id = 1; id <= 3; ++id) {
        MessagePtr m = make_message(*engine_, OpCode::signal, channel, id, "x");
        (void)client_->post(m);
    }
    for (std::uint64_t id = 1; id <= 3; ++id) {
        const std::optional<RawFrame> f = peer_->read_frame();
        ASSERT_TRUE(f && f->header.proto.op_code == OpCode::signal) << describe_frame(f);
    }
    peer_->reset();

    // Written is done with, as before confirmations: nothing comes back.
    std::vector<MessagePtr> before;
    const MessagePtr closed = wait_channel_closed(*client_, channel, &before);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);
    for (const MessagePtr& m : before) {
        EXPECT_FALSE(m->is_from_engine() && m->bhdr.proto.op_code == OpCode::signal) << describe(*m);
    }
}

TEST_F(ClientConfirmationTest, TheClientConfirmsABatchAtOnceAndTheRestSoonAfter) {
    (void)connect(true);
    BinaryHeader signal;
    signal.proto.op_code = OpCode::signal;
    std::vector<std::byte> batch;
    for (std::uint64_t id = 1; id <= 40; ++id) {
        signal.message_id = id;
        const std::vector<std::byte> frame = encode_frame(signal, {}, {});
        batch.insert(batch.end(), frame.begin(), frame.end());
    }
    ASSERT_TRUE(peer_->send(batch));
    // Counts grow, up to the 41 frames sent (the HelloResponse and 40 Signals).
    std::uint64_t last = 0;
    while (last < 41) {
        const std::optional<RawFrame> f = peer_->read_frame();
        ASSERT_TRUE(f && f->header.proto.op_code == detail::confirmation_op) << describe_frame(f);
        ASSERT_GT(f->header.message_id, last) << "counts only grow";
        last = f->header.message_id;
        ASSERT_LE(last, 41U);
    }
    // One more frame, fewer than a batch: confirmed after a short delay all the same.
    signal.message_id = 41;
    ASSERT_TRUE(peer_->send(encode_frame(signal, {}, {})));
    const std::optional<RawFrame> f = peer_->read_frame();
    EXPECT_TRUE(is_confirmation_of(f, 42)) << describe_frame(f);
}

TEST(ClientConfirmation, AHelloThatComesBackDoesNotCarryTheOffer) {
    auto engine = Reactor::create(Options{});
    ChannelGroupPtr client = engine->create();
    MessagePtr hello =
        hello_message(*engine, TcpClientAddress{"127.0.0.1", tofu::testing::find_free_tcp_port()});
    hello->thdrs.append("x-mine", "kept");
    const std::uint16_t channel = client->post(hello).channel_number;
    const MessagePtr back = wait_for_op(*client, OpCode::hello_request, channel);
    EXPECT_EQ(back->bhdr.status, AmpeStatus::connect_failed) << describe(*back);
    EXPECT_FALSE(back->thdrs.find("~confirm")) << "the engine's offer leaked: " << back->thdrs.text();
    EXPECT_EQ(header_value(*back, "x-mine"), "kept");
}

}  // namespace
}  // namespace tofu::test

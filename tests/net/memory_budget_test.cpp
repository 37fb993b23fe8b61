// The memory a hostile peer can make an engine hold is bounded per connection (issue 26, findings
// 3 and 4): whatever a raw peer does (never reads what an echo server answers, never confirms,
// stalls inside frames), the engine's own count (`Reactor::memory`) stays within
// `channel_budget` for every connection, the pool never grows past `max_pool_msgs`, and a
// well-behaved client is served meanwhile. The resident size is checked by the stress tests, in
// builds where it means something (tests/stress/hostile_memory_test.cpp).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>
#include <tofu/version.hpp>

#include "support/engine_helpers.hpp"

namespace tofu::test {
namespace {

using namespace std::chrono_literals;

/// A Request frame with `body_size` bytes of body.
std::vector<std::byte> request_frame(std::uint64_t id, std::size_t body_size) {
    BinaryHeader h;
    h.proto.op_code = OpCode::request;
    h.message_id = id;
    return encode_frame(h, {}, std::vector<std::byte>(body_size, std::byte{'x'}));
}

/// Reads the answers to Requests 2 .. `count` + 1 from `peer`: every one, in order.
void read_answers_in_order(RawPeer& peer, std::uint64_t count) {
    for (std::uint64_t i = 0; i < count; ++i) {
        const std::optional<RawFrame> f = peer.read_frame();
        ASSERT_TRUE(f.has_value()) << "the connection ended before answer " << i;
        ASSERT_EQ(f->header.message_id, i + 2) << "answers out of order";
    }
}

/// A server engine whose application echoes every Request back on its channel (as `tofu echo`
/// does: the received message itself is posted back), and a client engine with one good
/// connection to it.
class MemoryBudgetTest : public ::testing::TestWithParam<Transport> {
protected:
    void SetUp() override {
        if (const auto why = transport_unavailable(GetParam())) {
            GTEST_SKIP() << *why;
        }
        start(Options{});
    }

    void TearDown() override { stop_echo(); }

    void start(const Options& options) {
        stop_echo();
        options_ = options;
        server_engine_ = Reactor::create(options_);
        client_engine_ = Reactor::create(Options{});
        server_ = server_engine_->create();
        client_ = client_engine_->create();
        listener_ = start_listener(*server_engine_, *server_, GetParam());
        echo_ = std::jthread{[this] {
            try {
                echo_stats_ = serve_echo(*server_, SIZE_MAX, 10min, &stop_);
            } catch (const TestFailure& e) {
                echo_failure_ = e.what();
            }
        }};
        good_ = connect_client(*client_engine_, *client_, listener_.client_address);
    }

    void stop_echo() {
        if (echo_.joinable()) {
            stop_ = true;
            server_->update_receiver();
            echo_.join();
            EXPECT_EQ(echo_failure_, "");
            stop_ = false;
        }
    }

    /// The good client's Request comes back as the echo's Response.
    void expect_served(std::string_view while_doing) {
        const std::string body = "still served " + std::string{while_doing};
        MessagePtr request = make_message(*client_engine_, OpCode::request, good_, 0, body);
        const std::uint64_t id = client_->post(request).message_id;
        const MessagePtr response = wait_for_op(*client_, OpCode::response, good_);
        EXPECT_EQ(response->bhdr.message_id, id) << while_doing;
        EXPECT_EQ(response->body.text(), body) << while_doing;
    }

    /// `count` peers that offer confirmations, ask for more answers than the window and the pool
    /// together, read the window's worth and confirm none of them: their other answers wait on
    /// the server, holding the pool's messages.
    std::vector<std::unique_ptr<RawPeer>> peers_confirming_nothing(std::size_t count) {
        const std::size_t asked = options_.max_unconfirmed_frames + 4 * std::size_t{options_.max_pool_msgs};
        std::vector<std::byte> requests;
        for (std::uint64_t id = 2; id < 2 + asked; ++id) {
            const std::vector<std::byte> f = request_frame(id, 64);
            requests.insert(requests.end(), f.begin(), f.end());
        }
        std::vector<std::unique_ptr<RawPeer>> mute;
        for (std::size_t i = 0; i < count; ++i) {
            mute.push_back(std::make_unique<RawPeer>(listener_.client_address));
            EXPECT_TRUE(mute.back()->send(hello_frame(1, 1, "~confirm:1\r\n")));
            const std::optional<RawFrame> hello = read_past_confirmations(*mute.back());
            EXPECT_TRUE(hello && hello->header.proto.op_code == OpCode::hello_response)
                << "no HelloResponse for peer " << i;
            EXPECT_TRUE(mute.back()->send(requests));
        }
        for (std::size_t i = 0; i < count; ++i) {  // the answers its window lets through
            for (std::uint64_t a = 0; a < options_.max_unconfirmed_frames; ++a) {
                const std::optional<RawFrame> f = read_past_confirmations(*mute[i]);
                EXPECT_TRUE(f && f->header.message_id == a + 2) << "answer " << a << " to peer " << i;
            }
        }
        return mute;
    }

    /// The server engine's own count is within its budget: each connection within
    /// `channel_budget`, and the pool's messages within `max_pool_msgs` (the echo application
    /// makes none of its own).
    void expect_within_budget(std::string_view while_doing) {
        const EngineMemory m = server_engine_->memory();
        const std::size_t budget = channel_budget(options_);
        EXPECT_LE(m.largest_channel, budget) << while_doing;
        EXPECT_LE(m.channel_bytes, m.channels * budget) << while_doing;
        EXPECT_LE(m.pool_idle + m.pool_out, std::size_t{options_.max_pool_msgs}) << while_doing;
        RecordProperty("largest_channel_bytes", std::to_string(m.largest_channel));
    }

    Options options_;
    std::unique_ptr<Reactor> server_engine_;
    std::unique_ptr<Reactor> client_engine_;
    ChannelGroupPtr server_;
    ChannelGroupPtr client_;
    Listener listener_;
    std::atomic<bool> stop_{false};
    std::string echo_failure_;
    std::jthread echo_;
    EchoStats echo_stats_;  ///< what the echo did, once `stop_echo` returned
    std::uint16_t good_ = 0;
};

TEST_P(MemoryBudgetTest, AClientThatNeverReadsItsEchoesStopsBeingReadAndHoldsLittle) {
    // Finding 3: 60 kB Requests, never reading the answers. The echo queues its answers; past the
    // channel's share of the pool the server stops reading it, so the client's sends block.
    RawPeer deaf{listener_.client_address, 500ms};
    ASSERT_TRUE(deaf.send(hello_frame(1, 1)));
    constexpr std::size_t cap = std::size_t{256} << 20U;
    const std::size_t sent = deaf.send_until_blocked(request_frame(2, 60000), cap);
    EXPECT_LT(sent, cap) << "the server read all of it";
    expect_within_budget("while a client does not read");
    for (int i = 0; i < 3; ++i) {
        expect_served("while a client does not read");
    }
    expect_within_budget("after serving the good client");
}

TEST_P(MemoryBudgetTest, APeerThatNeverConfirmsGetsOneWindowAndIsClosedAfterTheTimeout) {
    // Finding 4: the peer offers confirmations, reads every answer, and never confirms.
    start(Options{.max_unconfirmed_frames = 256, .stall_timeout = 300ms});
    RawPeer mute{listener_.client_address};
    ASSERT_TRUE(mute.send(hello_frame(1, 1, "~confirm:1\r\n")));
    std::vector<std::byte> requests;
    for (std::uint64_t id = 2; id < 2 + 1000; ++id) {
        const std::vector<std::byte> f = request_frame(id, 16);
        requests.insert(requests.end(), f.begin(), f.end());
    }
    ASSERT_TRUE(mute.send(requests));
    // Its answers come up to the window, then nothing until the engine gives up on the peer.
    std::size_t responses = 0;
    while (const std::optional<RawFrame> f = mute.read_frame()) {
        if (f->header.proto.op_code == OpCode::response) {
            ++responses;
        }
        if (responses == options_.max_unconfirmed_frames) {
            expect_within_budget("with the window full");
        }
    }
    EXPECT_EQ(responses, options_.max_unconfirmed_frames);
    expect_served("after a peer that never confirmed");
    expect_within_budget("after a peer that never confirmed");
}

TEST_P(MemoryBudgetTest, PeersThatConfirmNoneOfTheirAnswersCannotKeepThePoolFromTheOthers) {
    // Each peer offers confirmations and confirms nothing: past its window its answers wait in its
    // queue, each in a message of the pool, and it is read no more once they pass its share (a
    // quarter of the pool's messages). What was read before that pause counts too: four such
    // peers hold the whole pool, and the others' reads find it dry, unless the engine takes it
    // back (within a second, long before stall_timeout, which here never comes).
    start(Options{.max_unconfirmed_frames = 64, .stall_timeout = 10min});
    const std::vector<std::unique_ptr<RawPeer>> mute = peers_confirming_nothing(4);
    ASSERT_FALSE(HasFailure());
    // Meanwhile a peer that pipelines big Requests and reads every answer keeps its channel,
    // though its socket is often full while the pool is dry.
    RawPeer pipelining{listener_.client_address};
    ASSERT_TRUE(pipelining.send(hello_frame(1, 1)));
    ASSERT_TRUE(pipelining.read_frame().has_value());
    constexpr std::uint64_t pipelined = 300;
    std::jthread reader{[&pipelining] { read_answers_in_order(pipelining, pipelined); }};
    for (std::uint64_t id = 2; id < pipelined + 2; ++id) {
        ASSERT_TRUE(pipelining.send(request_frame(id, 16000))) << "request " << id;
    }
    good_ = connect_client(*client_engine_, *client_, listener_.client_address);  // a new client
    for (int i = 0; i < 3; ++i) {
        expect_served("while four peers confirm none of their answers");
    }
    reader.join();
    expect_within_budget("while four peers confirm none of their answers");
}

TEST_P(MemoryBudgetTest, AnswersInMessagesGrownByBigFramesAreGivenBackWithoutClosingTheirPeers) {
    // As above, after big messages grew the pool's (here the application's own, as many clients
    // sending big Requests at once would): each small answer waits in a message with room for
    // 64 KiB. The engine copies such answers into messages of their connection's size, so their
    // peers keep their connections (until stall_timeout) while the pool goes back to the others.
    // Taking the messages whole would not fit a connection's own memory, and the engine would
    // close the peers to free them.
    start(Options{.max_unconfirmed_frames = 64, .stall_timeout = 10min});
    {
        // Every message the pool may hold, with what the engine has out: all it gives is big.
        std::vector<MessagePtr> grown(options_.max_pool_msgs - server_engine_->memory().pool_out);
        for (MessagePtr& m : grown) {
            m = server_engine_->get(AllocationStrategy::always);
            m->body.reserve(max_part_size);
        }
    }

    const std::vector<std::unique_ptr<RawPeer>> mute = peers_confirming_nothing(4);
    ASSERT_FALSE(HasFailure());
    good_ = connect_client(*client_engine_, *client_, listener_.client_address);  // a new client
    for (int i = 0; i < 3; ++i) {
        expect_served("while four peers confirm none of their answers");
    }
    expect_within_budget("while four peers confirm none of their answers");
    stop_echo();
    EXPECT_EQ(echo_stats_.closed_not_success, 0U) << "a peer was closed to free the pool";
}

TEST_P(MemoryBudgetTest, PeersStalledInsideFramesHoldNoneOfThePool) {
    // Twice as many peers as the pool has messages, each stopped inside a 60 kB frame: the
    // frames wait in their connections' own messages, and the pool is left to the others.
    start(Options{.initial_pool_msgs = 8, .max_pool_msgs = 8});
    const std::vector<std::byte> frame = request_frame(2, 60000);
    std::vector<std::unique_ptr<RawPeer>> stalled;
    for (std::uint32_t i = 0; i < 2 * options_.max_pool_msgs + 1; ++i) {
        auto peer = std::make_unique<RawPeer>(listener_.client_address);
        ASSERT_TRUE(peer->send(hello_frame(1, 1)));
        ASSERT_TRUE(peer->read_frame().has_value()) << "no HelloResponse for stalled peer " << i;
        ASSERT_TRUE(peer->send(std::span{frame}.first(frame.size() / 2)));
        stalled.push_back(std::move(peer));
    }
    for (int i = 0; i < 3; ++i) {
        expect_served("while peers are stalled inside frames");
    }
    expect_within_budget("while peers are stalled inside frames");
    // They go on: each frame arrives whole and is answered.
    for (auto& peer : stalled) {
        ASSERT_TRUE(peer->send(std::span{frame}.subspan(frame.size() / 2)));
    }
    for (auto& peer : stalled) {
        const std::optional<RawFrame> f = peer->read_frame();
        ASSERT_TRUE(f.has_value());
        EXPECT_EQ(f->header.proto.op_code, OpCode::response);
        EXPECT_EQ(f->body.size(), 60000U);
    }
}

TEST_P(MemoryBudgetTest, PeersThatConfirmOneAnswerAtATimeGetEveryOne) {
    // Peers whose window is full and who then confirm one answer at a time, each time with one
    // more Request: their answers wait for the window, and the server stops reading them (paused
    // for their answers, or starved: the few answers each has waiting hold the pool between
    // them). The confirmation must still be read: it alone lets the answers, and so the reading,
    // go on. (Before reading ahead for confirmations, every peer froze at the first round.)
    start(Options{.max_pool_msgs = 16, .max_unconfirmed_frames = 64});
    constexpr std::size_t peer_count = 4;  // their waiting answers leave the reads room in the pool
    constexpr std::uint64_t waiting = 3;   // answers queued beyond the window: under the echo share
    constexpr std::uint64_t rounds = 40;
    struct Trickler {
        std::unique_ptr<RawPeer> peer;
        std::uint64_t confirmed = 1;  // the HelloResponse
        std::uint64_t next_id = 2;
    };
    std::vector<Trickler> peers(peer_count);
    for (Trickler& p : peers) {
        p.peer = std::make_unique<RawPeer>(listener_.client_address);
        ASSERT_TRUE(p.peer->send(hello_frame(1, 1, "~confirm:1\r\n")));
        const std::optional<RawFrame> hello = read_past_confirmations(*p.peer);
        ASSERT_TRUE(hello && hello->header.proto.op_code == OpCode::hello_response);
        std::vector<std::byte> bytes = confirmation_frame(p.confirmed);
        for (std::uint64_t i = 0; i < options_.max_unconfirmed_frames + waiting; ++i) {
            const std::vector<std::byte> f = request_frame(p.next_id++, 16);
            bytes.insert(bytes.end(), f.begin(), f.end());
        }
        ASSERT_TRUE(p.peer->send(bytes));
    }
    std::uint64_t answered = 0;  // per peer, in order: the window's worth first
    for (; answered < options_.max_unconfirmed_frames; ++answered) {
        for (Trickler& p : peers) {
            const std::optional<RawFrame> f = read_past_confirmations(*p.peer);
            ASSERT_TRUE(f && f->header.message_id == answered + 2) << "answer " << answered;
        }
    }
    for (std::uint64_t round = 0; round < rounds; ++round, ++answered) {
        for (Trickler& p : peers) {
            std::vector<std::byte> bytes = confirmation_frame(++p.confirmed);
            const std::vector<std::byte> f = request_frame(p.next_id++, 16);
            bytes.insert(bytes.end(), f.begin(), f.end());
            ASSERT_TRUE(p.peer->send(bytes));
        }
        for (Trickler& p : peers) {
            const std::optional<RawFrame> f = read_past_confirmations(*p.peer);
            ASSERT_TRUE(f && f->header.message_id == answered + 2) << "round " << round;
        }
    }
    expect_served("after peers confirmed one answer at a time");
    expect_within_budget("after peers confirmed one answer at a time");
}

TEST_P(MemoryBudgetTest, PeersWhoseConfirmationsComeBehindTheirRequestsGetEveryAnswer) {
    // Each round a peer pipelines many Requests and only then confirms the answers it read: the
    // server, its window shut and its answers waiting, reads no Request of it (they would only
    // make more answers wait), but it must still find the confirmation behind them, else both
    // sides wait for ever. Within the budget: what it reads ahead is kept in its stash's room.
    if (std::string_view{backend_name} == "io_uring") {
        // Open there: such peers still stall or are let go by the pool's relief (docs/engine.md).
        GTEST_SKIP() << "open on io_uring: confirmations behind a receive's worth of Requests";
    }
    start(Options{.max_pool_msgs = 16, .max_unconfirmed_frames = 64});
    constexpr std::size_t peer_count = 6;
    constexpr std::uint64_t requests_per_round = 400;  // ~6.8 KB of Requests before each confirmation
    constexpr std::uint64_t rounds = 8;
    const std::uint64_t window = options_.max_unconfirmed_frames;
    struct Pipeliner {
        std::unique_ptr<RawPeer> peer;
        std::uint64_t next_id = 2;
        std::uint64_t read = 1;  // frames read: the HelloResponse
    };
    std::vector<Pipeliner> peers(peer_count);
    const auto pipeline = [](Pipeliner& p, std::vector<std::byte> bytes) {
        for (std::uint64_t i = 0; i < requests_per_round; ++i) {
            const std::vector<std::byte> f = request_frame(p.next_id++, 1);
            bytes.insert(bytes.end(), f.begin(), f.end());
        }
        return bytes;
    };
    for (Pipeliner& p : peers) {
        p.peer = std::make_unique<RawPeer>(listener_.client_address);
        ASSERT_TRUE(p.peer->send(hello_frame(1, 1, "~confirm:1\r\n")));
        const std::optional<RawFrame> hello = read_past_confirmations(*p.peer);
        ASSERT_TRUE(hello && hello->header.proto.op_code == OpCode::hello_response);
        ASSERT_TRUE(p.peer->send(pipeline(p, confirmation_frame(p.read))));
    }
    for (std::uint64_t round = 0; round <= rounds; ++round) {
        for (Pipeliner& p : peers) {
            // The window's worth of answers the last confirmation allowed, in order.
            for (std::uint64_t i = 0; i < window; ++i) {
                const std::optional<RawFrame> f = read_past_confirmations(*p.peer);
                ASSERT_TRUE(f && f->header.message_id == p.read + 1) << "round " << round << ", answer " << i;
                ++p.read;
            }
        }
        if (round != rounds) {
            for (Pipeliner& p : peers) {
                std::vector<std::byte> bytes = pipeline(p, {});
                const std::vector<std::byte> c = confirmation_frame(p.read);
                bytes.insert(bytes.end(), c.begin(), c.end());
                ASSERT_TRUE(p.peer->send(bytes));
            }
        }
    }
    expect_served("after peers confirmed behind their Requests");
    expect_within_budget("after peers confirmed behind their Requests");
}

TEST_P(MemoryBudgetTest, AFloodThatReadsItsAnswersFlowsWithinTheBudget) {
    // A peer that pushes as fast as it can and reads what comes back: everything flows, and the
    // engine holds no more for it than its budget.
    RawPeer flood{listener_.client_address};
    ASSERT_TRUE(flood.send(hello_frame(1, 1)));
    ASSERT_TRUE(flood.read_frame().has_value());
    constexpr std::uint64_t count = 2000;
    std::jthread reader{[&flood] { read_answers_in_order(flood, count); }};
    for (std::uint64_t id = 2; id < count + 2; ++id) {
        ASSERT_TRUE(flood.send(request_frame(id, 16000)));
        if (id % 500 == 0) {
            expect_within_budget("during a flood");
        }
    }
    reader.join();
    expect_served("after a flood");
}

INSTANTIATE_TEST_SUITE_P(Transports, MemoryBudgetTest,
                         ::testing::ValuesIn(with_tls(tcp4_and_uds_transports())), transport_test_name);

TEST(MemoryBudget, TheBudgetIsWellUnderAMebibyteByDefaultAndFollowsTheWindow) {
    EXPECT_LT(channel_budget(Options{}), std::size_t{1} << 20U);
    const std::size_t small = channel_budget(Options{.max_unconfirmed_frames = 64});
    const std::size_t large = channel_budget(Options{.max_unconfirmed_frames = 1U << 16U});
    EXPECT_EQ(large - small, ((std::size_t{1} << 16U) - 64) * 32);
}

TEST(MemoryBudget, AnIdleEngineCountsItsListenerAndThePool) {
    auto engine = Reactor::create(Options{});
    ChannelGroupPtr group = engine->create();
    const EngineMemory before = engine->memory();
    EXPECT_EQ(before.channels, 0U);
    EXPECT_EQ(before.pool_idle + before.pool_out, Options{}.initial_pool_msgs);  // a group holds one
    (void)start_listener(*engine, *group, Transport::tcp4);
    const EngineMemory listening = engine->memory();
    EXPECT_EQ(listening.channels, 1U);
    EXPECT_GT(listening.largest_channel, 0U);
    EXPECT_LE(listening.largest_channel, channel_budget(Options{}));
}

}  // namespace
}  // namespace tofu::test

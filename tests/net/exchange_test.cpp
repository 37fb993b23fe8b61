// One connection from Hello to close, over every transport (channel_group.hpp, DESIGN.md section
// 3): Request / Response / Signal in both directions with headers and bodies intact, ids kept,
// channel numbers local to each side, graceful close from either side with exactly one
// `channel_closed` (reason `success`) per side, rejecting a client, aborting with ByeSignal, and a
// peer that disappears (its engine or group destroyed).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
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

#include "support/engine_helpers.hpp"

namespace tofu::test {
namespace {

class ExchangeTest : public ::testing::TestWithParam<Transport> {
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
    }

    /// Nothing more about `channel` is in `group`'s queue: no second `channel_closed`, no message.
    static void expect_nothing_more_on(ChannelGroup& group, std::uint16_t channel) {
        for (const MessagePtr& m : drain(group)) {
            EXPECT_NE(m->bhdr.channel_number, channel) << "after channel_closed: " << describe(*m);
        }
    }

    [[nodiscard]] Connection connect() {
        return establish(*client_engine_, *client_, *server_, listener_.client_address);
    }

    // Engines first: members die in reverse order, so the groups go before their engines.
    std::unique_ptr<Reactor> server_engine_;
    std::unique_ptr<Reactor> client_engine_;
    ChannelGroupPtr server_;
    ChannelGroupPtr client_;
    Listener listener_;
};

TEST_P(ExchangeTest, RequestsResponsesSignalsAndGracefulClose) {
    // --- Hello with text headers and a body; HelloResponse with its own.
    MessagePtr hello = hello_message(*client_engine_, listener_.client_address);
    hello->thdrs.append("x-client", "alpha");
    hello->body.copy("hello from the client");
    const BinaryHeader hello_posted = client_->post(hello);
    ASSERT_NE(hello_posted.channel_number, unassigned_channel);
    ASSERT_NE(hello_posted.message_id, 0U);
    const std::uint16_t client_ch = hello_posted.channel_number;

    MessagePtr hello_in = wait_hello_request(*server_);
    const std::uint16_t server_ch = hello_in->bhdr.channel_number;
    EXPECT_NE(server_ch, unassigned_channel);
    EXPECT_NE(server_ch, listener_.channel) << "a connection must get its own channel, not the listener's";
    EXPECT_EQ(hello_in->bhdr.message_id, hello_posted.message_id);
    EXPECT_EQ(hello_in->bhdr.status, AmpeStatus::success);
    EXPECT_EQ(header_value(*hello_in, "x-client"), "alpha");
    EXPECT_EQ(hello_in->body.text(), "hello from the client");

    make_answer(*hello_in);
    hello_in->thdrs.append("x-server", "beta");
    hello_in->body.copy("welcome aboard");
    (void)server_->post(hello_in);
    MessagePtr accepted = wait_hello_response(*client_, client_ch);
    EXPECT_EQ(accepted->bhdr.message_id, hello_posted.message_id);
    EXPECT_EQ(header_value(*accepted, "x-server"), "beta");
    EXPECT_EQ(accepted->body.text(), "welcome aboard");

    // --- Client → server Requests (assigned and explicit ids, binary bodies), answered in order.
    constexpr std::size_t requests = 6;
    std::vector<std::uint64_t> ids;
    for (std::size_t i = 0; i < requests; ++i) {
        MessagePtr msg = make_message(*client_engine_, OpCode::request, client_ch, i % 2 == 0 ? 0 : 5000 + i);
        msg->thdrs.append("x-seq", std::to_string(i));
        msg->thdrs.append("Content-Type", "application/octet-stream");
        msg->body.copy(pattern_bytes(1000 * i + 1, i));
        ids.push_back(client_->post(msg).message_id);
    }
    for (std::size_t i = 0; i < requests; ++i) {
        SCOPED_TRACE("request " + std::to_string(i));
        MessagePtr got = wait_for_op(*server_, OpCode::request, server_ch);
        EXPECT_EQ(got->bhdr.message_id, ids[i]);
        EXPECT_FALSE(got->is_from_engine());
        EXPECT_EQ(got->bhdr.status, AmpeStatus::success);
        EXPECT_EQ(header_value(*got, "x-seq"), std::to_string(i));
        EXPECT_EQ(header_value(*got, "content-type"), "application/octet-stream");
        EXPECT_TRUE(same_bytes(got->body.data(), pattern_bytes(1000 * i + 1, i)));
        make_answer(*got);
        got->thdrs.append("x-answer-to", std::to_string(i));
        got->body.copy(pattern_bytes(77 + i, 100 + i));
        (void)server_->post(got);
    }
    for (std::size_t i = 0; i < requests; ++i) {
        SCOPED_TRACE("response " + std::to_string(i));
        MessagePtr got = wait_for_op(*client_, OpCode::response, client_ch);
        EXPECT_EQ(got->bhdr.message_id, ids[i]);
        EXPECT_FALSE(got->is_from_engine());
        EXPECT_EQ(header_value(*got, "x-answer-to"), std::to_string(i));
        EXPECT_TRUE(same_bytes(got->body.data(), pattern_bytes(77 + i, 100 + i)));
    }

    // --- Signals both ways.
    MessagePtr to_client = make_message(*server_engine_, OpCode::signal, server_ch, 0, "signal to client");
    const BinaryHeader to_client_posted = server_->post(to_client);
    MessagePtr from_client = make_message(*client_engine_, OpCode::signal, client_ch, 0, "signal to server");
    const BinaryHeader from_client_posted = client_->post(from_client);
    MessagePtr signal_in_client = wait_for_op(*client_, OpCode::signal, client_ch);
    EXPECT_EQ(signal_in_client->bhdr.message_id, to_client_posted.message_id);
    EXPECT_EQ(signal_in_client->body.text(), "signal to client");
    EXPECT_FALSE(signal_in_client->is_from_engine());
    MessagePtr signal_in_server = wait_for_op(*server_, OpCode::signal, server_ch);
    EXPECT_EQ(signal_in_server->bhdr.message_id, from_client_posted.message_id);
    EXPECT_EQ(signal_in_server->body.text(), "signal to server");

    // --- The server asks too: either peer may send a Request.
    MessagePtr ask = make_message(*server_engine_, OpCode::request, server_ch, 0, "server asks");
    const BinaryHeader ask_posted = server_->post(ask);
    MessagePtr asked = wait_for_op(*client_, OpCode::request, client_ch);
    EXPECT_EQ(asked->bhdr.message_id, ask_posted.message_id);
    EXPECT_EQ(asked->body.text(), "server asks");
    make_answer(*asked);
    asked->body.copy("client answers");
    (void)client_->post(asked);
    MessagePtr answered = wait_for_op(*server_, OpCode::response, server_ch);
    EXPECT_EQ(answered->bhdr.message_id, ask_posted.message_id);
    EXPECT_EQ(answered->body.text(), "client answers");

    // --- Graceful close from the client; one channel_closed (success) per side and nothing after.
    close_gracefully(*client_engine_, *client_, client_ch, *server_, server_ch);
    expect_nothing_more_on(*client_, client_ch);
    expect_nothing_more_on(*server_, server_ch);
}

TEST_P(ExchangeTest, ServerInitiatedGracefulClose) {
    const Connection c = connect();
    round_trip(*client_engine_, *client_, *server_, c, "before close");
    close_gracefully(*server_engine_, *server_, c.server, *client_, c.client);
    expect_nothing_more_on(*client_, c.client);
    expect_nothing_more_on(*server_, c.server);
    // The listener is not affected by a connection closing.
    const Connection again = connect();
    round_trip(*client_engine_, *client_, *server_, again, "after close");
}

TEST_P(ExchangeTest, ChannelNumbersAreLocalToEachSideOnOneEngine) {
    // Both ends in one engine: channel numbers are unique inside an engine, so the two sides'
    // numbers differ, and each side must see only its own.
    ChannelGroupPtr local_client = server_engine_->create();
    const Connection c = establish(*server_engine_, *local_client, *server_, listener_.client_address);
    EXPECT_NE(c.client, c.server);
    EXPECT_NE(c.client, listener_.channel);
    round_trip(*server_engine_, *local_client, *server_, c, "one engine");
    MessagePtr sig = make_message(*server_engine_, OpCode::signal, c.server, 0, "to the local client");
    (void)server_->post(sig);
    MessagePtr got = wait_for_op(*local_client, OpCode::signal, c.client);
    EXPECT_EQ(got->body.text(), "to the local client");
    close_gracefully(*server_engine_, *local_client, c.client, *server_, c.server);
}

TEST_P(ExchangeTest, MaxSizedTextHeadersAndBodyArriveIntact) {
    const Connection c = connect();
    MessagePtr msg = make_message(*client_engine_, OpCode::request, c.client, 0xABCDEF);
    const std::string value(max_part_size - std::string_view{"x-big:\r\n"}.size(), 'v');
    msg->thdrs.append("x-big", value);
    ASSERT_EQ(msg->thdrs.size(), max_part_size);
    const std::vector<std::byte> body = pattern_bytes(max_part_size, 7);
    msg->body.copy(body);
    const std::string headers_text{msg->thdrs.text()};
    (void)client_->post(msg);

    MessagePtr got = wait_for_op(*server_, OpCode::request, c.server);
    EXPECT_EQ(got->bhdr.message_id, 0xABCDEFU);
    EXPECT_EQ(got->thdrs.size(), max_part_size);
    EXPECT_TRUE(got->thdrs.text() == headers_text) << "65535 bytes of text headers changed on the way";
    EXPECT_TRUE(same_bytes(got->body.data(), body)) << "a 65535-byte body changed on the way";

    // Back the other way, unchanged: the Response keeps the Request's parts.
    got->bhdr.proto.op_code = OpCode::response;
    (void)server_->post(got);
    MessagePtr back = wait_for_op(*client_, OpCode::response, c.client);
    EXPECT_EQ(back->bhdr.message_id, 0xABCDEFU);
    EXPECT_TRUE(back->thdrs.text() == headers_text);
    EXPECT_TRUE(same_bytes(back->body.data(), body));
}

TEST_P(ExchangeTest, EmptyMessagesAndExtremeIdsArrive) {
    const Connection c = connect();
    const std::vector<std::uint64_t> ids{1,           255,         256,
                                         1ULL << 32U, 1ULL << 63U, std::numeric_limits<std::uint64_t>::max()};
    for (const std::uint64_t id : ids) {
        MessagePtr msg = make_message(*client_engine_, OpCode::signal, c.client, id);
        (void)client_->post(msg);
    }
    for (const std::uint64_t id : ids) {
        MessagePtr got = wait_for_op(*server_, OpCode::signal, c.server);
        EXPECT_EQ(got->bhdr.message_id, id);
        EXPECT_TRUE(got->thdrs.empty()) << describe(*got);
        EXPECT_TRUE(got->body.empty()) << describe(*got);
    }
}

TEST_P(ExchangeTest, MessagesPostedRightAfterHelloFollowIt) {
    MessagePtr hello = hello_message(*client_engine_, listener_.client_address);
    const BinaryHeader hello_posted = client_->post(hello);
    constexpr std::uint64_t early = 5;
    for (std::uint64_t i = 1; i <= early; ++i) {
        MessagePtr msg = make_message(*client_engine_, OpCode::request, hello_posted.channel_number, i,
                                      "early " + std::to_string(i));
        (void)client_->post(msg);
    }
    std::vector<MessagePtr> before;
    MessagePtr hello_in = wait_hello_request(*server_, &before);
    for (const MessagePtr& m : before) {
        EXPECT_NE(m->bhdr.proto.op_code, OpCode::request)
            << "a Request overtook its HelloRequest: " << describe(*m);
    }
    const std::uint16_t server_ch = accept_hello(*server_, std::move(hello_in));
    for (std::uint64_t i = 1; i <= early; ++i) {
        MessagePtr got = wait_for_op(*server_, OpCode::request, server_ch);
        EXPECT_EQ(got->bhdr.message_id, i);
        EXPECT_EQ(got->body.text(), "early " + std::to_string(i));
    }
    (void)wait_hello_response(*client_, hello_posted.channel_number);
}

TEST_P(ExchangeTest, OrderIsKeptForTwoThousandPipelinedMessages) {
    const Connection c = connect();
    constexpr std::uint64_t count = 2000;
    for (std::uint64_t i = 1; i <= count; ++i) {
        MessagePtr msg = make_message(*client_engine_, i % 3 == 0 ? OpCode::signal : OpCode::request,
                                      c.client, i, std::to_string(i));
        (void)client_->post(msg);
    }
    std::uint64_t expected = 1;
    std::uint64_t mismatches = 0;
    MessagePtr last = wait_for(
        *server_,
        [&](const Message& m) {
            if (m.bhdr.channel_number != c.server || m.is_from_engine()) {
                return false;
            }
            if ((m.bhdr.message_id != expected || m.body.text() != std::to_string(expected)) &&
                mismatches++ == 0) {
                ADD_FAILURE() << "first message out of order: expected " << expected << ", got "
                              << describe(m);
            }
            ++expected;
            return expected > count;
        },
        "all 2000 messages");
    EXPECT_EQ(mismatches, 0U);
    EXPECT_EQ(last->bhdr.message_id, count);
}

TEST_P(ExchangeTest, RequestsPipelinedFarPastTheConfirmationWindowAreAllAnswered) {
    // A client that posts many Requests at once confirms the server's Responses behind them, in
    // the same stream. An engine holds the Requests it writes to half its window and lets
    // Responses use all of it, so the server reads far enough to find those confirmations before
    // its window fills with Responses. With one window for both, the engines waited on each other
    // until stall_timeout closed the channel (here, at the default window of 4096 frames, after
    // about 4,150 answers).
    const Connection c = connect();
    const std::uint64_t count = 3 * std::uint64_t{Options{}.max_unconfirmed_frames};
    std::jthread answering{[this, count] {
        for (std::uint64_t answered = 0; answered < count;) {
            MessagePtr m = server_->wait_receive(event_timeout);
            if (!m) {
                return;  // the client's wait below fails the test
            }
            if (m->bhdr.proto.op_code == OpCode::request) {
                m->bhdr.proto.op_code = OpCode::response;
                (void)server_->post(m);
                ++answered;
            }
        }
    }};
    for (std::uint64_t i = 1; i <= count; ++i) {
        MessagePtr msg = make_message(*client_engine_, OpCode::request, c.client, i, std::to_string(i));
        (void)client_->post(msg);
    }
    for (std::uint64_t i = 1; i <= count; ++i) {
        const MessagePtr response = wait_for_op(*client_, OpCode::response, c.client);
        ASSERT_EQ(response->bhdr.message_id, i) << "answers out of order";
        ASSERT_EQ(response->body.text(), std::to_string(i));
    }
}

TEST_P(ExchangeTest, WithBothSpinsOffEveryWaitSleepsAndIsWoken) {
    // Zero spins: the engine and each receiver sleep as soon as they are out of work, so no spin
    // finds a message here: each is already queued when asked for, or comes with a wake-up (the
    // engine's notifier, the group's condition variable).
    const Options no_spin{.idle_spin = std::chrono::microseconds{0},
                          .receive_spin = std::chrono::microseconds{0}};
    const std::unique_ptr<Reactor> server_engine = Reactor::create(no_spin);
    const std::unique_ptr<Reactor> client_engine = Reactor::create(no_spin);
    const ChannelGroupPtr server = server_engine->create();
    const ChannelGroupPtr client = client_engine->create();
    const Listener listener = start_listener(*server_engine, *server, GetParam());
    const Connection c = establish(*client_engine, *client, *server, listener.client_address);
    for (int i = 0; i < 100; ++i) {
        round_trip(*client_engine, *client, *server, c, "no spin " + std::to_string(i));
    }
    close_gracefully(*client_engine, *client, c.client, *server, c.server);
}

TEST_P(ExchangeTest, RejectedClientSeesPeerDisconnectedAndNoHelloResponse) {
    MessagePtr hello = hello_message(*client_engine_, listener_.client_address);
    const BinaryHeader hello_posted = client_->post(hello);
    MessagePtr hello_in = wait_hello_request(*server_);
    const std::uint16_t server_ch = hello_in->bhdr.channel_number;

    // Reject: ByeSignal on the new channel.
    hello_in->bhdr.proto.op_code = OpCode::bye_signal;
    hello_in->thdrs.reset();
    hello_in->body.reset();
    (void)server_->post(hello_in);

    MessagePtr server_closed = wait_channel_closed(*server_, server_ch);
    EXPECT_EQ(reason_of(*server_closed), status_name(AmpeStatus::shutdown_started))
        << describe(*server_closed);

    std::vector<MessagePtr> before;
    MessagePtr client_closed = wait_channel_closed(*client_, hello_posted.channel_number, &before);
    EXPECT_EQ(reason_of(*client_closed), status_name(AmpeStatus::peer_disconnected))
        << describe(*client_closed);
    // The engine kept the HelloRequest until a HelloResponse that never came: it comes back once,
    // whole, with the close's reason, and never also as an `~unconfirmed` header.
    int hellos_back = 0;
    for (const MessagePtr& m : before) {
        EXPECT_NE(m->bhdr.proto.op_code, OpCode::hello_response) << "a rejected client got " << describe(*m);
        EXPECT_FALSE(m->thdrs.find(header::unconfirmed)) << describe(*m);
        if (m->bhdr.proto.op_code == OpCode::hello_request) {
            ++hellos_back;
            EXPECT_TRUE(m->is_from_engine()) << describe(*m);
            EXPECT_EQ(m->bhdr.status, AmpeStatus::peer_disconnected) << describe(*m);
        }
    }
    EXPECT_EQ(hellos_back, 1);
    expect_nothing_more_on(*client_, hello_posted.channel_number);

    // Rejecting one client does not affect the listener.
    const Connection next = connect();
    round_trip(*client_engine_, *client_, *server_, next, "after a rejection");
}

TEST_P(ExchangeTest, ByeSignalAbortWithQueuedMessages) {
    const Connection c = connect();
    constexpr std::uint64_t count = 400;
    constexpr std::uint64_t base = 10'000;
    const std::string body(4096, 'q');
    for (std::uint64_t i = 0; i < count; ++i) {
        MessagePtr msg = make_message(*client_engine_, OpCode::request, c.client, base + i, body);
        (void)client_->post(msg);
    }
    MessagePtr abort = make_message(*client_engine_, OpCode::bye_signal, c.client);
    (void)client_->post(abort);

    // Client: Requests the server did not confirm come back (origin engine, status
    // shutdown_started): first those written but unconfirmed (they may have arrived), then those
    // never written; then one channel_closed with reason shutdown_started.
    std::vector<std::uint64_t> returned;
    std::size_t unconfirmed = 0;
    MessagePtr client_closed = wait_for(
        *client_,
        [&](const Message& m) {
            if (m.bhdr.channel_number == c.client && m.bhdr.proto.op_code == OpCode::request) {
                EXPECT_TRUE(m.is_from_engine()) << describe(m);
                EXPECT_EQ(m.bhdr.status, AmpeStatus::shutdown_started) << describe(m);
                if (m.thdrs.find(header::unconfirmed)) {
                    EXPECT_EQ(unconfirmed, returned.size()) << "an unconfirmed Request after an unsent one";
                    EXPECT_TRUE(m.body.empty()) << "an unconfirmed Request comes back as its header";
                    ++unconfirmed;
                } else {
                    EXPECT_EQ(m.body.size(), body.size()) << "an unsent Request comes back whole";
                }
                returned.push_back(m.bhdr.message_id);
            }
            return is_channel_closed(m, c.client);
        },
        "the client's channel_closed after ByeSignal");
    EXPECT_EQ(reason_of(*client_closed), status_name(AmpeStatus::shutdown_started))
        << describe(*client_closed);

    // Server: what arrived is a prefix of what was posted, in order (released as it arrives so
    // the pool never starves), then channel_closed with reason peer_disconnected.
    std::vector<std::uint64_t> received;
    MessagePtr server_closed = wait_for(
        *server_,
        [&](const Message& m) {
            if (m.bhdr.channel_number == c.server && m.bhdr.proto.op_code == OpCode::request) {
                EXPECT_FALSE(m.is_from_engine()) << describe(m);
                received.push_back(m.bhdr.message_id);
            }
            return is_channel_closed(m, c.server);
        },
        "the server's channel_closed after the client's abort");
    EXPECT_EQ(reason_of(*server_closed), status_name(AmpeStatus::peer_disconnected))
        << describe(*server_closed);

    for (std::size_t i = 0; i < received.size(); ++i) {
        ASSERT_EQ(received[i], base + i) << "the server's Requests are not a prefix in order";
    }
    // Nothing lost: the returned Requests are the tail from where the server's prefix ends or
    // earlier (an unconfirmed one may have arrived); only an unconfirmed one may also be delivered.
    for (std::size_t i = 0; i < returned.size(); ++i) {
        ASSERT_EQ(returned[i], base + count - returned.size() + i)
            << "the returned Requests are not the tail";
    }
    EXPECT_GE(received.size() + returned.size(), count) << "a Request was neither delivered nor returned";
    for (std::size_t i = unconfirmed; i < returned.size(); ++i) {
        EXPECT_GE(returned[i], base + received.size())
            << "Request " << returned[i] << " was delivered and came back as never written";
    }
    expect_nothing_more_on(*client_, c.client);
    expect_nothing_more_on(*server_, c.server);
}

TEST_P(ExchangeTest, PostsRacingTheirChannelsAbortComeBackBeforeChannelClosed) {
    // Four threads post Signals while the channel is aborted under them. post() either refuses a
    // Signal (invalid_channel_number) or accepts it; an accepted one is written or comes back, and
    // nothing about the channel arrives after its channel_closed.
    const Connection c = connect();
    constexpr std::uint64_t posters = 4;
    constexpr std::uint64_t per_poster = 2000;
    std::atomic<std::uint64_t> accepted_count{0};
    std::vector<std::vector<std::uint64_t>> accepted(posters);
    std::vector<std::string> failures(posters);
    std::vector<std::thread> threads;
    for (std::uint64_t t = 0; t < posters; ++t) {
        threads.emplace_back([&, t] {
            for (std::uint64_t i = 0; i < per_poster; ++i) {
                const std::uint64_t id = (t + 1) * 1'000'000 + i;
                MessagePtr msg = make_message(*client_engine_, OpCode::signal, c.client, id);
                try {
                    (void)client_->post(msg);
                } catch (const Error& e) {
                    if (e.status() != AmpeStatus::invalid_channel_number) {
                        failures[t] = e.what();
                    }
                    return;  // the channel is closed: every later post would be refused too
                }
                accepted[t].push_back(id);
                accepted_count.fetch_add(1, std::memory_order_relaxed);
            }
        });
    }
    ASSERT_TRUE(eventually([&] { return accepted_count.load() >= 100; })) << "the posters did not start";
    MessagePtr abort = make_message(*client_engine_, OpCode::bye_signal, c.client);
    (void)client_->post(abort);

    std::vector<MessagePtr> before_closed;
    (void)wait_channel_closed(*client_, c.client, &before_closed);
    for (std::thread& t : threads) {
        t.join();
    }
    for (const std::string& failure : failures) {
        EXPECT_EQ(failure, "") << "post failed with a status other than invalid_channel_number";
    }
    for (const MessagePtr& m : until_posted_processed(*client_engine_, *client_)) {
        EXPECT_NE(m->bhdr.channel_number, c.client) << "after channel_closed: " << describe(*m);
    }

    // What came back is, for each poster, in its order, and only what post() accepted.
    std::vector<std::vector<std::uint64_t>> returned(posters);
    for (const MessagePtr& m : before_closed) {
        if (m->bhdr.channel_number == c.client && m->bhdr.proto.op_code == OpCode::signal) {
            EXPECT_TRUE(m->is_from_engine()) << describe(*m);
            EXPECT_EQ(m->bhdr.status, AmpeStatus::shutdown_started) << describe(*m);
            const std::uint64_t t = m->bhdr.message_id / 1'000'000 - 1;
            ASSERT_LT(t, posters) << describe(*m);
            returned[t].push_back(m->bhdr.message_id);
        }
    }
    for (std::uint64_t t = 0; t < posters; ++t) {
        EXPECT_TRUE(std::ranges::is_sorted(returned[t])) << "poster " << t << ": returned out of order";
        EXPECT_TRUE(std::ranges::includes(accepted[t], returned[t]))
            << "poster " << t << ": a Signal came back that post() refused, or twice";
    }
    (void)wait_channel_closed(*server_, c.server);
}

TEST_P(ExchangeTest, ClientEngineDestroyedServerSeesPeerDisconnected) {
    const Connection c = connect();
    round_trip(*client_engine_, *client_, *server_, c, "before the client vanishes");
    client_engine_.reset();  // the client's group outlives its engine on purpose

    MessagePtr closed = wait_channel_closed(*server_, c.server);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);
    expect_nothing_more_on(*server_, c.server);

    // The server goes on serving.
    std::unique_ptr<Reactor> other = Reactor::create(Options{});
    ChannelGroupPtr other_client = other->create();
    const Connection next = establish(*other, *other_client, *server_, listener_.client_address);
    round_trip(*other, *other_client, *server_, next, "a new client");
}

TEST_P(ExchangeTest, ClientGroupDestroyedServerSeesPeerDisconnected) {
    const Connection c = connect();
    client_engine_->destroy(std::move(client_));
    MessagePtr closed = wait_channel_closed(*server_, c.server);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);

    // The client engine goes on working with a new group.
    client_ = client_engine_->create();
    const Connection next = connect();
    round_trip(*client_engine_, *client_, *server_, next, "a new group");
}

TEST_P(ExchangeTest, ServerGroupDestroyedClientSeesPeerDisconnected) {
    const Connection c = connect();
    server_engine_->destroy(std::move(server_));
    MessagePtr closed = wait_channel_closed(*client_, c.client);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);

    // The listener was one of the group's channels: it is gone too.
    MessagePtr hello = hello_message(*client_engine_, listener_.client_address);
    const BinaryHeader posted = client_->post(hello);
    MessagePtr back = wait_for(
        *client_,
        [&](const Message& m) {
            return m.bhdr.channel_number == posted.channel_number &&
                   (m.bhdr.proto.op_code == OpCode::hello_request ||
                    m.bhdr.proto.op_code == OpCode::hello_response || is_any_channel_closed(m));
        },
        "the Hello to a destroyed group's listener failing");
    EXPECT_EQ(back->bhdr.proto.op_code, OpCode::hello_request) << describe(*back);
    EXPECT_TRUE(back->bhdr.status == AmpeStatus::connect_failed ||
                back->bhdr.status == AmpeStatus::uds_path_not_found)
        << describe(*back);
}

INSTANTIATE_TEST_SUITE_P(Transports, ExchangeTest, ::testing::ValuesIn(with_tls(all_transports())),
                         transport_test_name);

}  // namespace
}  // namespace tofu::test

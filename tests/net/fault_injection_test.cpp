// Fault injection: a chaos proxy between a client engine and a server engine fragments the stream
// into single bytes, delays it, stalls it, resets it mid-frame or ends it mid-frame (half-close).
// The nothing-lost invariant: of K messages posted on one channel, delivered + returned with an
// error = K exactly. The server receives a prefix, in order, without duplicates and intact; the
// client gets back, with an error status, exactly the rest. When the stream survives the fault,
// every message is delivered and none comes back; when the connection breaks, the server gets
// exactly the frames that crossed the proxy whole, and the client gets back every message its peer
// did not confirm (reliability.md).
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "support/chaos_proxy.hpp"
#include "support/engine_helpers.hpp"

namespace tofu::test {
namespace {

using namespace std::chrono_literals;
using Kind = ChaosFault::Kind;

constexpr std::uint64_t message_count = 200;
constexpr std::size_t body_size = 512;
/// Where the cutting faults strike: well past the Hello, and inside a frame.
constexpr std::size_t cut_at = 40'000 + 3;

ChaosFault fault_of(Kind kind) {
    switch (kind) {
        case Kind::delay: return {kind, 0, 1ms};
        case Kind::stall: return {kind, 20'000, 300ms};
        case Kind::reset:
        case Kind::half_close: return {kind, cut_at, 0ms};
        case Kind::none:
        case Kind::fragment: return {kind, 0, 0ms};
    }
    return {};
}

bool breaks_the_stream(Kind kind) {
    return kind == Kind::reset || kind == Kind::half_close;
}

using FaultParam = std::tuple<Transport, Kind>;

class FaultInjectionTest : public ::testing::TestWithParam<FaultParam> {};

TEST_P(FaultInjectionTest, NothingIsLostSilently) {
    const auto [transport, kind] = GetParam();
    if (const auto why = transport_unavailable(transport)) {
        GTEST_SKIP() << *why;
    }
    auto server_engine = Reactor::create(Options{});
    auto client_engine = Reactor::create(Options{});
    ChannelGroupPtr server = server_engine->create();
    ChannelGroupPtr client = client_engine->create();
    const Listener listener = start_listener(*server_engine, *server, transport);
    ChaosProxy proxy{transport, listener.client_address, fault_of(kind)};
    const Connection c = establish(*client_engine, *client, *server, proxy.client_address());

    // A fault may close the channel while we are still posting: from then on `post` refuses, and
    // the message stays with us (returned at once, with the error).
    std::uint64_t posted = 0;
    for (std::uint64_t id = 1; id <= message_count; ++id) {
        MessagePtr m = make_message(*client_engine, OpCode::signal, c.client, id);
        m->body.copy(pattern_bytes(body_size, id));
        try {
            (void)client->post(m);
        } catch (const Error& e) {
            EXPECT_TRUE(breaks_the_stream(kind)) << e.what();
            EXPECT_EQ(e.status(), AmpeStatus::invalid_channel_number) << e.what();
            break;
        }
        posted = id;
    }

    // The server: a prefix of what was posted, in order and intact, then (if the stream broke) the close.
    std::uint64_t delivered = 0;
    bool server_closed = false;
    while (delivered < posted && !server_closed) {
        MessagePtr m = receive(*server);
        if (is_channel_closed(*m, c.server)) {
            server_closed = true;
            EXPECT_TRUE(breaks_the_stream(kind))
                << "closed under a fault the stream survives: " << describe(*m);
            EXPECT_EQ(reason_of(*m), status_name(AmpeStatus::peer_disconnected)) << describe(*m);
            continue;
        }
        if (is_engine_signal(*m, AmpeStatus::pool_empty, c.server)) {
            continue;  // backpressure: reading resumes as this loop returns messages
        }
        ASSERT_FALSE(m->is_from_engine()) << describe(*m);
        ASSERT_EQ(m->bhdr.message_id, delivered + 1) << "out of order, duplicated or missing";
        ASSERT_TRUE(matches_pattern(m->body.data(), body_size, m->bhdr.message_id)) << describe(*m);
        ++delivered;
    }

    if (!breaks_the_stream(kind)) {
        EXPECT_EQ(delivered, message_count);
        close_gracefully(*client_engine, *client, c.client, *server, c.server);
        return;
    }

    // The client: its close, and back comes the tail of what it posted: what the server did not
    // confirm (written, marked `~unconfirmed`, before the report), what it had not written yet
    // (before the report) and what had not even reached the engine (after it).
    std::vector<MessagePtr> messages;
    MessagePtr closed = wait_channel_closed(*client, c.client, &messages);
    EXPECT_NE(reason_of(*closed), status_name(AmpeStatus::success)) << describe(*closed);
    for (MessagePtr& m : until_posted_processed(*client_engine, *client)) {
        messages.push_back(std::move(m));
    }
    std::vector<std::uint64_t> returned;
    std::size_t unconfirmed = 0;
    for (const MessagePtr& m : messages) {
        if (m->is_from_engine() && m->bhdr.proto.op_code == OpCode::signal && m->bhdr.message_id != 0) {
            EXPECT_NE(m->bhdr.status, AmpeStatus::success) << describe(*m);
            if (m->thdrs.find(header::unconfirmed)) {
                EXPECT_EQ(unconfirmed, returned.size()) << "an unconfirmed message after an unsent one";
                ++unconfirmed;
            }
            returned.push_back(m->bhdr.message_id);
        }
    }
    if (transport == Transport::tls4) {
        // The proxy cannot see frames or confirmations inside TLS records, so it cannot hold a
        // reset back until the server confirmed what it has: a confirmation the reset destroys
        // leaves delivered messages among the unconfirmed ones that come back. Still nothing is
        // lost: the returned messages are the tail of what was posted, and only unconfirmed ones
        // may also have been delivered.
        EXPECT_GE(delivered + returned.size(), posted);
        EXPECT_LE(delivered + returned.size() - unconfirmed, posted);
        for (std::size_t i = 0; i < returned.size(); ++i) {
            EXPECT_EQ(returned[i], posted - returned.size() + 1 + i) << "returned messages are not the tail";
        }
    } else {
        // Exactly the frames that reached the server's socket whole were delivered (the Hello
        // aside): the receiving engine reads what arrived before the break, even a reset, and
        // drops only the cut frame...
        EXPECT_EQ(delivered, proxy.frames_forwarded() - 1);
        // ...and every other posted message came back, once, in order: delivered + returned = posted.
        EXPECT_EQ(delivered + returned.size(), posted)
            << returned.size() << " returned (" << unconfirmed << " unconfirmed) of " << posted << " posted";
        for (std::size_t i = 0; i < returned.size(); ++i) {
            EXPECT_EQ(returned[i], delivered + 1 + i) << "returned messages are not the undelivered tail";
        }
    }
    if (!server_closed) {
        (void)wait_channel_closed(*server, c.server);
    }
    EXPECT_LT(delivered, message_count) << "the fault struck after everything was through";
    RecordProperty("unconfirmed", static_cast<int>(unconfirmed));
    RecordProperty("delivered", static_cast<int>(delivered));
    RecordProperty("returned", static_cast<int>(returned.size()));
    RecordProperty("refused", static_cast<int>(message_count - posted));
}

std::string fault_test_name(const ::testing::TestParamInfo<FaultParam>& info) {
    return std::string{transport_name(std::get<0>(info.param))} + "_" +
           std::string{fault_name(std::get<1>(info.param))};
}

INSTANTIATE_TEST_SUITE_P(Faults, FaultInjectionTest,
                         ::testing::Combine(::testing::ValuesIn(with_tls({Transport::tcp4,
                                                                          Transport::uds_path})),
                                            ::testing::Values(Kind::none, Kind::fragment, Kind::delay,
                                                              Kind::stall, Kind::reset, Kind::half_close)),
                         fault_test_name);

}  // namespace
}  // namespace tofu::test

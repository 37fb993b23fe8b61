// Tearing down with traffic in flight (ampe.hpp, channel_group.hpp, DESIGN.md section 3, "Destroy
// a group" / "Destroy the engine"): an engine destroyed while another thread posts or right after
// posting, a group destroyed with messages queued or while its peer sends, groups destroyed with
// channels open, and messages the application holds outliving their engine. Everything must be
// clean under AddressSanitizer and ThreadSanitizer; the peer side must see each close once.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "support/engine_helpers.hpp"
#include "support/latch.hpp"

namespace tofu::test {
namespace {

/// Receives on the server side of a connection until its `channel_closed`, releasing everything as
/// it arrives (so the pool never starves); checks the Requests are a prefix, in order, of the ids
/// `first`, `first + 1`, ...; returns the `channel_closed` report.
MessagePtr expect_prefix_then_closed(ChannelGroup& group, std::uint16_t channel, std::uint64_t first,
                                     std::uint64_t& received) {
    received = 0;
    std::uint64_t mismatches = 0;
    MessagePtr closed = wait_for(
        group,
        [&](const Message& m) {
            if (m.bhdr.channel_number == channel && m.bhdr.proto.op_code == OpCode::request &&
                !m.is_from_engine()) {
                if (m.bhdr.message_id != first + received && mismatches++ == 0) {
                    ADD_FAILURE() << "expected Request " << first + received << ", got " << describe(m);
                }
                ++received;
            }
            return is_channel_closed(m, channel);
        },
        "channel_closed on channel " + std::to_string(channel));
    EXPECT_EQ(mismatches, 0U) << "the Requests that arrived are not a prefix in order";
    return closed;
}

/// Empties a group whose engine is gone: what it returns must be valid messages; bounded.
void drain_orphan(ChannelGroup& group) {
    for (int i = 0; i < 100'000; ++i) {
        MessagePtr left = group.wait_receive(std::chrono::nanoseconds{0});
        if (!left) {
            return;
        }
        EXPECT_TRUE(is_defined(left->bhdr.proto.op_code)) << describe(*left);
    }
    ADD_FAILURE() << "a group whose engine is gone keeps returning messages";
}

class ShutdownTest : public ::testing::Test {
protected:
    void SetUp() override {
        server_engine_ = Reactor::create(Options{});
        server_ = server_engine_->create();
        listener_ = start_listener(*server_engine_, *server_, Transport::tcp4);
    }

    std::unique_ptr<Reactor> server_engine_;
    ChannelGroupPtr server_;
    Listener listener_;
};

TEST_F(ShutdownTest, EngineDestroyedWhileAnotherThreadPosts) {
    std::unique_ptr<Reactor> client_engine = Reactor::create(Options{});
    ChannelGroupPtr client = client_engine->create();
    const Connection c = establish(*client_engine, *client, *server_, listener_.client_address);

    constexpr std::uint64_t first_id = 1;
    constexpr std::uint64_t max_posts = 1'000'000;
    Latch posting{1};
    std::optional<AmpeStatus> stopped_by;
    std::uint64_t posted = 0;
    // The poster never touches the engine object (it is destroyed under its feet): standalone
    // messages only, and the group, which outlives the engine.
    std::thread poster{[&] {
        for (std::uint64_t i = 0; i < max_posts; ++i) {
            MessagePtr msg = Message::create();
            msg->bhdr.proto.op_code = OpCode::request;
            msg->bhdr.channel_number = c.client;
            msg->bhdr.message_id = first_id + i;
            msg->body.copy("in flight");
            try {
                (void)client->post(msg);
            } catch (const Error& e) {
                stopped_by = e.status();
                break;
            }
            ++posted;
            if (posted == 100) {
                posting.count_down();
            }
        }
        if (posted < 100) {
            posting.count_down();
        }
    }};
    posting.wait();
    client_engine.reset();
    poster.join();

    ASSERT_TRUE(stopped_by.has_value()) << "post kept accepting messages after the engine was destroyed";
    EXPECT_TRUE(*stopped_by == AmpeStatus::shutdown_started ||
                *stopped_by == AmpeStatus::invalid_channel_number)
        << status_name(*stopped_by);
    EXPECT_GE(posted, 100U);

    std::uint64_t received = 0;
    MessagePtr closed = expect_prefix_then_closed(*server_, c.server, first_id, received);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);
    EXPECT_LE(received, posted);

    drain_orphan(*client);
    client.reset();
}

TEST_F(ShutdownTest, EngineDestroyedRightAfterPosting) {
    std::unique_ptr<Reactor> client_engine = Reactor::create(Options{});
    ChannelGroupPtr client = client_engine->create();
    const Connection c = establish(*client_engine, *client, *server_, listener_.client_address);
    constexpr std::uint64_t count = 1000;
    for (std::uint64_t i = 1; i <= count; ++i) {
        MessagePtr msg = make_message(*client_engine, OpCode::request, c.client, i, std::string(512, 'x'));
        (void)client->post(msg);
    }
    client.reset();
    client_engine.reset();

    std::uint64_t received = 0;
    MessagePtr closed = expect_prefix_then_closed(*server_, c.server, 1, received);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);
    EXPECT_LE(received, count);
}

TEST_F(ShutdownTest, GroupDestroyedWithTrafficInFlight) {
    std::unique_ptr<Reactor> client_engine = Reactor::create(Options{});
    ChannelGroupPtr client = client_engine->create();
    const Connection c = establish(*client_engine, *client, *server_, listener_.client_address);
    constexpr std::uint64_t count = 1000;
    for (std::uint64_t i = 1; i <= count; ++i) {
        MessagePtr msg = make_message(*client_engine, OpCode::request, c.client, i, std::string(512, 'y'));
        (void)client->post(msg);
    }
    client_engine->destroy(std::move(client));

    std::uint64_t received = 0;
    MessagePtr closed = expect_prefix_then_closed(*server_, c.server, 1, received);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);
    EXPECT_LE(received, count);

    // The engine is unharmed: a new group connects and talks.
    ChannelGroupPtr again = client_engine->create();
    const Connection next = establish(*client_engine, *again, *server_, listener_.client_address);
    round_trip(*client_engine, *again, *server_, next, "after a group died with traffic in flight");
}

TEST_F(ShutdownTest, GroupDestroyedWhileItsPeerSends) {
    std::unique_ptr<Reactor> client_engine = Reactor::create(Options{});
    ChannelGroupPtr client = client_engine->create();
    const Connection c = establish(*client_engine, *client, *server_, listener_.client_address);
    constexpr std::uint64_t count = 2000;
    for (std::uint64_t i = 1; i <= count; ++i) {
        MessagePtr msg = make_message(*client_engine, OpCode::request, c.client, i, std::string(2048, 'z'));
        (void)client->post(msg);
    }
    // Destroy the receiving group once traffic is flowing.
    (void)wait_for_op(*server_, OpCode::request, c.server);
    server_engine_->destroy(std::move(server_));

    // The client: each Request still queued comes back with the close's reason, then channel_closed.
    std::vector<std::pair<std::uint64_t, AmpeStatus>> returned;
    MessagePtr closed = wait_for(
        *client,
        [&](const Message& m) {
            if (m.bhdr.channel_number == c.client && m.bhdr.proto.op_code == OpCode::request) {
                EXPECT_TRUE(m.is_from_engine()) << describe(m);
                returned.emplace_back(m.bhdr.message_id, m.bhdr.status);
            }
            return is_channel_closed(m, c.client);
        },
        "the client's channel_closed after the server group died");
    const std::string reason = reason_of(*closed);
    EXPECT_EQ(reason, status_name(AmpeStatus::peer_disconnected)) << describe(*closed);
    std::uint64_t previous = 0;
    for (const auto& [id, status] : returned) {
        EXPECT_EQ(status_name(status), reason)
            << "Request " << id << " came back with another status than the reason";
        EXPECT_GT(id, previous) << "returned Requests out of order";
        previous = id;
    }
}

TEST_F(ShutdownTest, DestroyingGroupsThatStillHaveOpenChannels) {
    std::unique_ptr<Reactor> client_engine = Reactor::create(Options{});
    ChannelGroupPtr clients = client_engine->create();
    std::vector<Connection> connections;
    connections.reserve(3);
    for (int i = 0; i < 3; ++i) {
        connections.push_back(establish(*client_engine, *clients, *server_, listener_.client_address));
    }
    // A second listener in the server group, on UDS where there is UDS, open when the group dies.
    const Listener second = start_listener(*server_engine_, *server_, uds_or_tcp4());

    // The client group dies with three open channels: the server sees three peer_disconnected.
    client_engine->destroy(std::move(clients));
    for (const Connection& c : connections) {
        MessagePtr closed = wait_channel_closed(*server_, c.server);
        EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);
    }

    // The server group dies with two listeners and one connection open.
    ChannelGroupPtr late = client_engine->create();
    const Connection c = establish(*client_engine, *late, *server_, second.client_address);
    server_engine_->destroy(std::move(server_));
    MessagePtr closed = wait_channel_closed(*late, c.client);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);

    // Its listeners are gone with it.
    MessagePtr hello = hello_message(*client_engine, listener_.client_address);
    const BinaryHeader posted = late->post(hello);
    MessagePtr back = wait_for(
        *late,
        [&](const Message& m) {
            return m.bhdr.channel_number == posted.channel_number &&
                   (m.bhdr.proto.op_code == OpCode::hello_request ||
                    m.bhdr.proto.op_code == OpCode::hello_response || is_any_channel_closed(m));
        },
        "the Hello to a destroyed group's listener failing");
    EXPECT_EQ(back->bhdr.proto.op_code, OpCode::hello_request) << describe(*back);
    EXPECT_EQ(back->bhdr.status, AmpeStatus::connect_failed) << describe(*back);
}

TEST_F(ShutdownTest, MessagesHeldByTheAppStayValidAfterTheirEngineIsGone) {
    std::unique_ptr<Reactor> engine = Reactor::create(Options{8, 16});
    // Held: messages from the pool (taken first, while the pool surely holds them), messages
    // allocated beyond it, and messages received from the network.
    std::vector<MessagePtr> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(engine->get(AllocationStrategy::pool_only));
        ASSERT_NE(held.back(), nullptr);
    }
    for (int i = 0; i < 3; ++i) {
        held.push_back(engine->get(AllocationStrategy::always));
    }
    ChannelGroupPtr server = engine->create();
    ChannelGroupPtr client_group = server_engine_->create();
    const Listener listener = start_listener(*engine, *server, uds_or_tcp4());
    const Connection c = establish(*server_engine_, *client_group, *server, listener.client_address);

    for (std::size_t i = 0; i < held.size(); ++i) {
        held[i]->body.copy("held " + std::to_string(i));
        held[i]->thdrs.append("x-index", std::to_string(i));
    }
    for (std::uint64_t i = 1; i <= 3; ++i) {
        MessagePtr msg =
            make_message(*server_engine_, OpCode::request, c.client, i, "received " + std::to_string(i));
        (void)client_group->post(msg);
    }
    std::vector<MessagePtr> received;
    received.reserve(3);
    for (int i = 0; i < 3; ++i) {
        received.push_back(wait_for_op(*server, OpCode::request, c.server));
    }

    engine.reset();  // the group `server` outlives it

    for (std::size_t i = 0; i < held.size(); ++i) {
        EXPECT_EQ(held[i]->body.text(), "held " + std::to_string(i));
        EXPECT_EQ(header_value(*held[i], "x-index"), std::to_string(i));
        held[i]->body.append(std::string_view{" still writable"});
        MessagePtr copy = held[i]->clone();
        EXPECT_EQ(copy->body.text(), "held " + std::to_string(i) + " still writable");
    }
    for (std::size_t i = 0; i < received.size(); ++i) {
        EXPECT_EQ(received[i]->bhdr.message_id, i + 1);
        EXPECT_EQ(received[i]->body.text(), "received " + std::to_string(i + 1));
    }
    // Released in a mixed order, some after the group too.
    held.resize(held.size() / 2);
    drain_orphan(*server);
    server.reset();
    held.clear();
    received.clear();

    MessagePtr closed = wait_channel_closed(*client_group, c.client);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << describe(*closed);
}

TEST(EngineShutdown, FileDescriptorsReturnAfterEnginesWithOpenChannelsAreDestroyed) {
    if (!process_stats_available()) {
        GTEST_SKIP() << "this system gives no count of open descriptors";
    }
    const std::size_t fds_before = descriptor_baseline();
    {
        std::unique_ptr<Reactor> server_engine = Reactor::create(Options{});
        std::unique_ptr<Reactor> client_engine = Reactor::create(Options{});
        ChannelGroupPtr server = server_engine->create();
        ChannelGroupPtr client = client_engine->create();
        for (const Transport transport : all_transports()) {
            if (transport_unavailable(transport)) {
                continue;
            }
            const Listener listener = start_listener(*server_engine, *server, transport);
            for (int i = 0; i < 3; ++i) {
                const Connection c = establish(*client_engine, *client, *server, listener.client_address);
                round_trip(*client_engine, *client, *server, c, std::string{transport_name(transport)});
            }
        }
        EXPECT_GT(open_descriptor_count(), fds_before) << "open listeners and connections hold descriptors";
        // Engines die first here, with their groups still alive and every channel open.
        server_engine.reset();
        client_engine.reset();
    }
    EXPECT_TRUE(descriptors_back_to(fds_before))
        << "descriptors leaked by engines destroyed with channels open: " << open_descriptor_count()
        << " open, " << fds_before << " before";
}

}  // namespace
}  // namespace tofu::test

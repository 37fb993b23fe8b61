// A group's pollable handle (`native_handle`, `watch`) and `try_receive`: the handle is readable
// exactly while the group's queue holds messages, raised by whatever queues them (the application,
// a timer, the engine's traffic) and lowered by the receive that takes the last one; it stays
// readable, and the watch refuses receives, once the group is gone.
#include <gtest/gtest.h>

#if defined(_WIN32)
#include <winsock2.h>
#else
#include <poll.h>
#endif

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <system_error>
#include <thread>
#include <vector>

#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "support/engine_helpers.hpp"

namespace tofu::test {
namespace {

using namespace std::chrono_literals;

/// Whether `handle` is readable within `timeout` (zero: right now), as an application's poll sees
/// it.
bool readable(NativeHandle handle, std::chrono::milliseconds timeout = 0ms) {
#if defined(_WIN32)
    WSAPOLLFD entry{static_cast<SOCKET>(handle), POLLRDNORM, 0};
    const int n = ::WSAPoll(&entry, 1, static_cast<INT>(timeout.count()));
    return n == 1 && (entry.revents & POLLRDNORM) != 0;
#else
    pollfd entry{handle, POLLIN, 0};
    const int n = ::poll(&entry, 1, static_cast<int>(timeout.count()));
    return n == 1 && (entry.revents & POLLIN) != 0;
#endif
}

constexpr std::chrono::milliseconds generous{event_timeout};

class Readiness : public ::testing::Test {
protected:
    void SetUp() override {
        engine_ = Reactor::create(Options{});
        group_ = engine_->create();
    }

    MessagePtr tagged(std::uint64_t id) { return make_message(*engine_, OpCode::signal, 0, id); }

    std::unique_ptr<Reactor> engine_;
    ChannelGroupPtr group_;
};

TEST_F(Readiness, TheHandleIsOneDescriptorForTheGroupsLifeAndEachWatchHasItsOwn) {
    const NativeHandle handle = group_->native_handle();
    EXPECT_EQ(group_->native_handle(), handle);
    const std::shared_ptr<ReceiveWatch> first = group_->watch();
    const std::shared_ptr<ReceiveWatch> second = group_->watch();
    ASSERT_NE(first, nullptr);
    ASSERT_NE(second, nullptr);
    EXPECT_NE(first->native_handle(), handle);
    EXPECT_NE(second->native_handle(), first->native_handle());
    EXPECT_NE(engine_->create()->native_handle(), handle) << "each group has its own";

    group_->update_receiver(tagged(1));  // every descriptor follows the one queue
    EXPECT_TRUE(readable(handle));
    EXPECT_TRUE(readable(first->native_handle()));
    EXPECT_TRUE(readable(second->native_handle()));
    std::error_code ec;
    EXPECT_NE(second->try_receive(ec), nullptr);
    EXPECT_FALSE(readable(handle));
    EXPECT_FALSE(readable(first->native_handle()));
    EXPECT_FALSE(readable(second->native_handle()));
}

TEST_F(Readiness, ADroppedWatchIsForgottenAndTheOthersGoOn) {
    const NativeHandle handle = group_->native_handle();
    for (int i = 0; i < 100; ++i) {  // watchers come and go (an Asio receiver per connection, say)
        std::shared_ptr<ReceiveWatch> watch = group_->watch();
        group_->update_receiver(tagged(static_cast<std::uint64_t>(i)));
        ASSERT_TRUE(readable(watch->native_handle()));
        ASSERT_NE(group_->try_receive(), nullptr);
        ASSERT_FALSE(readable(watch->native_handle()));
    }
    group_->update_receiver(tagged(100));
    EXPECT_TRUE(readable(handle));
    EXPECT_NE(group_->try_receive(), nullptr);
    EXPECT_FALSE(readable(handle));
}

TEST_F(Readiness, TryReceiveOnAnEmptyQueueReturnsNullAtOnce) {
    EXPECT_EQ(group_->try_receive(), nullptr);
    group_->update_receiver(tagged(5));
    const MessagePtr got = group_->try_receive();
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->bhdr.message_id, 5U);
    EXPECT_EQ(group_->try_receive(), nullptr);
}

TEST_F(Readiness, ReadableFromTheFirstQueuedMessageUntilTheLastIsTaken) {
    const NativeHandle handle = group_->native_handle();
    EXPECT_FALSE(readable(handle)) << "an empty queue";

    for (std::uint64_t id = 1; id <= 3; ++id) {
        group_->update_receiver(tagged(id));
    }
    EXPECT_TRUE(readable(handle));
    EXPECT_TRUE(readable(handle)) << "level-triggered: polling does not clear it";
    for (std::uint64_t id = 1; id <= 3; ++id) {
        const MessagePtr got = group_->try_receive();
        ASSERT_NE(got, nullptr);
        EXPECT_EQ(got->bhdr.message_id, id) << "FIFO";
        EXPECT_EQ(readable(handle), id < 3) << "after taking message " << id << " of 3";
    }
    EXPECT_EQ(group_->try_receive(), nullptr);
    EXPECT_FALSE(readable(handle));

    group_->update_receiver(tagged(4));  // the next cycle raises it again
    EXPECT_TRUE(readable(handle));
    EXPECT_NE(receive(*group_), nullptr) << "wait_receive takes part in the same rule";
    EXPECT_FALSE(readable(handle));
}

TEST_F(Readiness, AHandleMadeWhileMessagesWaitIsReadableAtOnce) {
    group_->update_receiver(tagged(1));
    const NativeHandle handle = group_->native_handle();
    EXPECT_TRUE(readable(handle));
    EXPECT_NE(group_->try_receive(), nullptr);
    EXPECT_FALSE(readable(handle));
}

TEST_F(Readiness, ATimerRaisesItFromTheEngineThread) {
    const NativeHandle handle = group_->native_handle();
    EXPECT_NE(group_->update_receiver(tagged(9), 1ms), 0U);
    ASSERT_TRUE(readable(handle, generous)) << "the timer never made the handle readable";
    const MessagePtr got = group_->try_receive();
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->bhdr.message_id, 9U);
    EXPECT_FALSE(readable(handle));
}

TEST_F(Readiness, AnEmptyReceiveAfterATimedOutWaitLeavesItLowered) {
    const NativeHandle handle = group_->native_handle();
    EXPECT_EQ(group_->wait_receive(1ms), nullptr);
    EXPECT_FALSE(readable(handle));
}

TEST_F(Readiness, OnceTheGroupIsGoneTheWatchStaysReadableAndRefusesReceives) {
    const std::shared_ptr<ReceiveWatch> watch = group_->watch();
    group_->update_receiver(tagged(1));  // still queued when the group goes: back to the pool
    std::error_code ec;
    EXPECT_NE(watch->try_receive(ec), nullptr);
    EXPECT_FALSE(readable(watch->native_handle()));

    group_.reset();
    EXPECT_TRUE(readable(watch->native_handle())) << "a waiter must wake up";
    EXPECT_EQ(watch->try_receive(ec), nullptr);
    EXPECT_EQ(ec, make_error_code(AmpeStatus::invalid_group));
    EXPECT_TRUE(readable(watch->native_handle())) << "for good";
}

// Many producers, one consumer on another thread that waits on the handle alone: no wake-up is
// lost (every message arrives, in each producer's order) and none is false (readable always means
// a message is there to take). Run under TSan in CI.
TEST_F(Readiness, FollowsTheQueueUnderManyProducersAndAConsumerThread) {
    constexpr std::size_t producers = 4;
    constexpr std::uint64_t per_producer = 2000;
    const NativeHandle handle = group_->native_handle();

    std::size_t received = 0;
    std::size_t false_wake_ups = 0;
    std::vector<std::uint64_t> next(producers, 0);
    std::thread consumer{[&] {
        while (received < producers * per_producer) {
            if (!readable(handle, generous)) {
                return;  // a lost wake-up: the count below says so
            }
            MessagePtr msg = group_->try_receive();
            if (!msg) {
                ++false_wake_ups;
                continue;
            }
            for (; msg; msg = group_->try_receive()) {
                const std::uint64_t producer = msg->bhdr.message_id / per_producer;
                if (producer < producers && msg->bhdr.message_id % per_producer == next[producer]) {
                    ++next[producer];
                }
                ++received;
            }
        }
    }};
    run_concurrently(producers, [&](std::size_t p) {
        for (std::uint64_t i = 0; i < per_producer; ++i) {
            group_->update_receiver(tagged(p * per_producer + i));
        }
    });
    consumer.join();

    EXPECT_EQ(received, producers * per_producer) << "a wake-up was lost";
    EXPECT_EQ(false_wake_ups, 0U) << "readable with nothing to take";
    for (std::size_t p = 0; p < producers; ++p) {
        EXPECT_EQ(next[p], per_producer) << "producer " << p << "'s messages out of order";
    }
    EXPECT_FALSE(readable(handle));
}

// The engine's own deliveries raise it too: a whole exchange driven by one poll over both groups.
TEST_F(Readiness, OnePollOverTwoGroupsCarriesAConnectionsTraffic) {
    const ChannelGroupPtr server = engine_->create();
    const Listener listener = start_listener(*engine_, *server, uds_or_tcp4());
    const std::vector<NativeHandle> handles{group_->native_handle(), server->native_handle()};

    MessagePtr hello = hello_message(*engine_, listener.client_address);
    const std::uint16_t client_channel = group_->post(hello).channel_number;
    bool answered = false;
    const auto until = std::chrono::steady_clock::now() + event_timeout;
    while (!answered && std::chrono::steady_clock::now() < until) {
        // Whichever group is ready: the server accepts and answers, the client asks once.
        for (std::size_t i = 0; i < handles.size(); ++i) {
            if (!readable(handles[i], 10ms)) {
                continue;
            }
            ChannelGroup& group = i == 0 ? *group_ : *server;
            for (MessagePtr msg = group.try_receive(); msg; msg = group.try_receive()) {
                const OpCode op = msg->bhdr.proto.op_code;
                if (op == OpCode::hello_request) {
                    accept_hello(*server, std::move(msg));
                } else if (op == OpCode::hello_response) {
                    MessagePtr request = make_message(*engine_, OpCode::request, client_channel, 0, "ping");
                    group_->post(request);
                } else if (op == OpCode::request) {
                    make_answer(*msg);
                    server->post(msg);
                } else if (op == OpCode::response) {
                    answered = true;
                }
            }
            EXPECT_FALSE(readable(handles[i])) << "group " << i << " emptied but still readable";
        }
    }
    EXPECT_TRUE(answered) << "the request's answer never arrived";
}

}  // namespace
}  // namespace tofu::test

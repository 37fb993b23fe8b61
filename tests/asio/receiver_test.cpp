// <tofu/asio.hpp>: `tofu::asio::receiver` takes a group's messages inside an io_context with every
// kind of completion token, in order, cancels per operation and on `cancel()`, and ends a pending
// operation with an error when the receiver or the group goes away first, losing no message.
#include <gtest/gtest.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <tofu/ampe.hpp>
#include <tofu/asio.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "support/engine_helpers.hpp"

namespace tofu::test {
namespace {

using namespace std::chrono_literals;

/// What one `async_receive` completed with.
struct Outcome {
    std::error_code ec;
    MessagePtr msg;
};

class AsioReceiver : public ::testing::Test {
protected:
    void SetUp() override {
        engine_ = Reactor::create(Options{});
        group_ = engine_->create();
    }

    MessagePtr tagged(std::uint64_t id) { return make_message(*engine_, OpCode::signal, 0, id); }

    /// Runs the io_context until every operation the test waits for has completed, failing the
    /// test when that takes longer than `event_timeout`.
    void run() {
        const auto until = std::chrono::steady_clock::now() + event_timeout;
        while (outstanding_ > 0 && !io_.stopped() && std::chrono::steady_clock::now() < until) {
            io_.run_one_until(until);
        }
        EXPECT_EQ(outstanding_, 0U) << "operations still pending after " << event_timeout.count() << " s";
    }

    /// A completion handler that keeps what the operation completed with in `into`; `run` waits
    /// for it.
    auto record(std::optional<Outcome>& into) {
        ++outstanding_;
        return [this, &into](std::error_code ec, MessagePtr msg) {
            into = Outcome{ec, std::move(msg)};
            --outstanding_;
        };
    }

    std::unique_ptr<Reactor> engine_;
    ChannelGroupPtr group_;
    ::asio::io_context io_;
    std::size_t outstanding_ = 0;  ///< operations a test still waits for; `run` ends at zero
};

TEST_F(AsioReceiver, AReadyMessageCompletesThroughTheExecutorNeverInsideTheCall) {
    group_->update_receiver(tagged(1));
    tofu::asio::receiver receiver{io_, *group_};
    std::optional<Outcome> outcome;
    receiver.async_receive(record(outcome));
    EXPECT_FALSE(outcome) << "completed inside async_receive";
    run();
    ASSERT_TRUE(outcome);
    EXPECT_FALSE(outcome->ec) << outcome->ec.message();
    ASSERT_NE(outcome->msg, nullptr);
    EXPECT_EQ(outcome->msg->bhdr.message_id, 1U);
}

// A callback chain on this thread, a producer on another: every message, in order, and the waits
// in between (the producer is often ahead, sometimes behind).
TEST_F(AsioReceiver, ThousandsOfMessagesFromAnotherThreadArriveInOrder) {
    constexpr std::uint64_t count = 5000;
    tofu::asio::receiver receiver{io_, *group_};
    std::uint64_t next = 0;
    std::error_code failure;
    std::function<void(std::error_code, MessagePtr)> on_message = [&](std::error_code ec, MessagePtr msg) {
        if (ec || !msg) {
            failure = ec;
            --outstanding_;
            return;
        }
        EXPECT_EQ(msg->bhdr.message_id, next) << "out of order";
        if (++next == count) {
            --outstanding_;
            return;
        }
        receiver.async_receive(on_message);
    };
    ++outstanding_;
    receiver.async_receive(on_message);
    std::thread producer{[&] {
        for (std::uint64_t id = 0; id < count; ++id) {
            group_->update_receiver(tagged(id));
            if (id % 100 == 0) {
                std::this_thread::yield();  // let the receiver catch up and wait now and then
            }
        }
    }};
    run();
    producer.join();
    EXPECT_FALSE(failure) << failure.message();
    EXPECT_EQ(next, count);
}

// Two threads run the io_context: the edge a delivery raises may be seen by the other thread's
// reactor before this thread's wait begins (Asio re-checks readiness as a wait starts). Nothing
// may stall.
TEST_F(AsioReceiver, TwoThreadsRunningTheContextLoseNoWakeUp) {
    constexpr std::uint64_t count = 5000;
    auto strand = ::asio::make_strand(io_);
    tofu::asio::receiver receiver{strand, *group_};
    std::atomic<std::uint64_t> next{0};
    std::promise<void> done;
    std::function<void(std::error_code, MessagePtr)> on_message = [&](std::error_code ec, MessagePtr msg) {
        if (ec || !msg || msg->bhdr.message_id != next.load()) {
            done.set_value();  // `next` tells how far it got
            return;
        }
        if (++next == count) {
            done.set_value();
            return;
        }
        receiver.async_receive(on_message);
    };
    receiver.async_receive(on_message);
    std::thread runner{[&] { io_.run(); }};
    std::thread second_runner{[&] { io_.run(); }};
    for (std::uint64_t id = 0; id < count; ++id) {
        group_->update_receiver(tagged(id));
        if (id % 7 == 0) {
            std::this_thread::yield();
        }
    }
    const bool finished = done.get_future().wait_for(event_timeout) == std::future_status::ready;
    io_.stop();
    runner.join();
    second_runner.join();
    EXPECT_TRUE(finished) << "stalled after " << next.load() << " of " << count << " messages";
    EXPECT_EQ(next.load(), count);
}

TEST_F(AsioReceiver, ACoroutineAwaitsMessagesBesideATimer) {
    tofu::asio::receiver receiver{io_, *group_};
    std::vector<std::uint64_t> ids;
    bool timer_fired = false;
    ++outstanding_;
    ::asio::co_spawn(
        io_,
        [&]() -> ::asio::awaitable<void> {
            ::asio::steady_timer timer{io_, 1ms};
            co_await timer.async_wait(::asio::use_awaitable);
            timer_fired = true;
            group_->update_receiver(tagged(7), 1ms);  // a tofu timer, from inside the coroutine
            for (int i = 0; i < 2; ++i) {
                MessagePtr msg = co_await receiver.async_receive(::asio::use_awaitable);
                ids.push_back(msg->bhdr.message_id);
            }
        },
        [&](const std::exception_ptr& e) {
            EXPECT_FALSE(e) << "the coroutine threw";
            --outstanding_;
        });
    group_->update_receiver(tagged(3));
    run();
    EXPECT_TRUE(timer_fired);
    EXPECT_EQ(ids, (std::vector<std::uint64_t>{3, 7}));
}

TEST_F(AsioReceiver, UseFutureAndDeferredWork) {
    tofu::asio::receiver receiver{io_, *group_};
    group_->update_receiver(tagged(1));
    group_->update_receiver(tagged(2));
    std::future<MessagePtr> first = receiver.async_receive(::asio::use_future);
    std::thread runner{[&] { io_.run(); }};
    ASSERT_EQ(first.wait_for(event_timeout), std::future_status::ready);
    EXPECT_EQ(first.get()->bhdr.message_id, 1U);
    runner.join();

    io_.restart();
    auto deferred = receiver.async_receive(::asio::experimental::deferred);
    std::optional<Outcome> second;
    std::move(deferred)(record(second));
    run();
    ASSERT_TRUE(second);
    ASSERT_NE(second->msg, nullptr);
    EXPECT_EQ(second->msg->bhdr.message_id, 2U);
}

TEST_F(AsioReceiver, ACancelledOperationEndsWithOperationAbortedAndLosesNothing) {
    tofu::asio::receiver receiver{io_, *group_};
    ::asio::cancellation_signal signal;
    std::optional<Outcome> outcome;
    receiver.async_receive(::asio::bind_cancellation_slot(signal.slot(), record(outcome)));
    ::asio::post(io_, [&] { signal.emit(::asio::cancellation_type::terminal); });
    run();
    ASSERT_TRUE(outcome);
    EXPECT_EQ(outcome->ec, ::asio::error::operation_aborted);
    EXPECT_EQ(outcome->msg, nullptr);

    group_->update_receiver(tagged(4));  // the receiver still works after a cancelled operation
    io_.restart();
    outcome.reset();
    receiver.async_receive(record(outcome));
    run();
    ASSERT_TRUE(outcome);
    ASSERT_NE(outcome->msg, nullptr);
    EXPECT_EQ(outcome->msg->bhdr.message_id, 4U);
}

TEST_F(AsioReceiver, CancelEndsThePendingOperation) {
    tofu::asio::receiver receiver{io_, *group_};
    std::optional<Outcome> outcome;
    receiver.async_receive(record(outcome));
    ::asio::post(io_, [&] { receiver.cancel(); });
    run();
    ASSERT_TRUE(outcome);
    EXPECT_EQ(outcome->ec, ::asio::error::operation_aborted);
}

TEST_F(AsioReceiver, TheReceiverGoingFirstEndsItsOperationAndTheMessageStaysQueued) {
    auto receiver = std::make_unique<tofu::asio::receiver>(io_, *group_);
    std::optional<Outcome> outcome;
    receiver->async_receive(record(outcome));
    ::asio::post(io_, [&] {
        receiver.reset();
        group_->update_receiver(tagged(8));
    });
    run();
    ASSERT_TRUE(outcome);
    EXPECT_EQ(outcome->ec, ::asio::error::operation_aborted);
    EXPECT_EQ(outcome->msg, nullptr);
    const MessagePtr kept = group_->try_receive();
    ASSERT_NE(kept, nullptr) << "the message was lost with the receiver";
    EXPECT_EQ(kept->bhdr.message_id, 8U);
}

// The window between a wait's end and its handler: the handler is bound to a second io_context, so
// the operation's next step waits there, unrun, while the receiver is cancelled or destroyed. It
// must still end with operation_aborted and leave the message in the queue.
class AsioReceiverAfterWakeUp : public AsioReceiver, public ::testing::WithParamInterface<bool> {};

TEST_P(AsioReceiverAfterWakeUp, ACancelOrTheReceiverGoingBeforeTheHandlerRunsTakesNothing) {
    const bool destroy = GetParam();
    ::asio::io_context handler_io;
    auto receiver = std::make_unique<tofu::asio::receiver>(io_, *group_);
    std::optional<Outcome> outcome;
    receiver->async_receive(::asio::bind_executor(handler_io, [&](std::error_code ec, MessagePtr msg) {
        outcome = Outcome{ec, std::move(msg)};
    }));
    for (int i = 0; i < 3; ++i) {  // the first attempt finds nothing and starts the wait
        io_.poll();
        handler_io.poll();
    }
    ASSERT_FALSE(outcome);
    group_->update_receiver(tagged(6));
    io_.poll();  // the reactor ends the wait; the next step is queued on handler_io
    if (destroy) {
        receiver.reset();
    } else {
        receiver->cancel();
    }
    handler_io.poll();
    io_.poll();
    handler_io.poll();
    ASSERT_TRUE(outcome);
    EXPECT_EQ(outcome->ec, ::asio::error::operation_aborted) << outcome->ec.message();
    EXPECT_EQ(outcome->msg, nullptr);
    const MessagePtr kept = group_->try_receive();
    ASSERT_NE(kept, nullptr) << "the aborted operation took the message";
    EXPECT_EQ(kept->bhdr.message_id, 6U);
}

INSTANTIATE_TEST_SUITE_P(CancelOrDestroy, AsioReceiverAfterWakeUp, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) {
                             return param.param ? std::string{"ReceiverDestroyed"} : std::string{"Cancelled"};
                         });

TEST_F(AsioReceiver, ADeferredOperationLaunchedAfterTheReceiverWentIsAborted) {
    auto receiver = std::make_unique<tofu::asio::receiver>(io_, *group_);
    auto deferred = receiver->async_receive(::asio::experimental::deferred);
    receiver.reset();
    group_->update_receiver(tagged(2));
    std::optional<Outcome> outcome;
    std::move(deferred)(record(outcome));
    run();
    ASSERT_TRUE(outcome);
    EXPECT_EQ(outcome->ec, ::asio::error::operation_aborted) << outcome->ec.message();
    EXPECT_NE(group_->try_receive(), nullptr) << "the message stays queued";
}

// One receiver after another on the same group, the second on another io_context: each has a
// descriptor of its own (on Windows, one that may join another completion port).
TEST_F(AsioReceiver, ReceiversOneAfterAnotherOnOtherContextsEachReceive) {
    ::asio::io_context other_io;
    for (std::uint64_t id = 1; id <= 3; ++id) {
        ::asio::io_context& io = id % 2 == 0 ? other_io : io_;
        io.restart();
        tofu::asio::receiver receiver{io, *group_};
        group_->update_receiver(tagged(id));
        std::future<MessagePtr> got = receiver.async_receive(::asio::use_future);
        io.run_for(event_timeout);
        ASSERT_EQ(got.wait_for(0s), std::future_status::ready) << "receiver " << id;
        EXPECT_EQ(got.get()->bhdr.message_id, id);
    }
}

TEST_F(AsioReceiver, TheGroupGoingFirstEndsTheOperationWithInvalidGroup) {
    tofu::asio::receiver receiver{io_, *group_};
    std::optional<Outcome> outcome;
    receiver.async_receive(record(outcome));
    ::asio::post(io_, [&] { group_.reset(); });
    run();
    ASSERT_TRUE(outcome);
    EXPECT_EQ(outcome->ec, make_error_code(AmpeStatus::invalid_group)) << outcome->ec.message();
    EXPECT_EQ(outcome->msg, nullptr);

    io_.restart();
    outcome.reset();
    receiver.async_receive(record(outcome));
    run();
    ASSERT_TRUE(outcome);
    EXPECT_EQ(outcome->ec, make_error_code(AmpeStatus::invalid_group)) << "and every later one";
}

TEST_F(AsioReceiver, TheGroupDestroyedOnAnotherThreadWakesTheWaiter) {
    tofu::asio::receiver receiver{io_, *group_};
    std::promise<Outcome> outcome;
    receiver.async_receive([&](std::error_code ec, MessagePtr msg) {
        outcome.set_value(Outcome{ec, std::move(msg)});
    });
    std::thread runner{[&] { io_.run(); }};
    group_.reset();
    std::future<Outcome> got = outcome.get_future();
    const bool woke = got.wait_for(event_timeout) == std::future_status::ready;
    if (!woke) {
        io_.stop();
    }
    runner.join();
    ASSERT_TRUE(woke) << "the pending operation never completed";
    EXPECT_EQ(got.get().ec, make_error_code(AmpeStatus::invalid_group));
}

// A whole exchange over a real connection, served by a coroutine.
TEST_F(AsioReceiver, ACoroutineServesRequestsOverAConnection) {
    const ChannelGroupPtr client = engine_->create();
    const Listener listener = start_listener(*engine_, *group_, uds_or_tcp4());
    constexpr int requests = 200;
    tofu::asio::receiver receiver{io_, *group_};
    int answered = 0;
    ++outstanding_;
    ::asio::co_spawn(
        io_,
        [&]() -> ::asio::awaitable<void> {
            while (answered < requests) {
                MessagePtr msg = co_await receiver.async_receive(::asio::use_awaitable);
                if (msg->bhdr.proto.op_code == OpCode::hello_request) {
                    accept_hello(*group_, std::move(msg));
                } else if (msg->bhdr.proto.op_code == OpCode::request) {
                    make_answer(*msg);
                    group_->post(msg);
                    ++answered;
                }
            }
        },
        [&](const std::exception_ptr& e) {
            EXPECT_FALSE(e) << "the coroutine threw";
            --outstanding_;
        });
    std::thread client_thread{[&] {
        const std::uint16_t channel = connect_client(*engine_, *client, listener.client_address);
        for (int i = 0; i < requests; ++i) {
            MessagePtr request = make_message(*engine_, OpCode::request, channel, 0, "ping");
            client->post(request);
            const MessagePtr answer = wait_for_op(*client, OpCode::response, channel);
            EXPECT_NE(answer, nullptr);
        }
    }};
    run();
    client_thread.join();
    EXPECT_EQ(answered, requests);
}

}  // namespace
}  // namespace tofu::test

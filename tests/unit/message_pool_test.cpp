// Unit tests of the engine's message pool (src/shared/message_pool.{hpp,cpp}) and of the message
// ownership it relies on (MessagePtr, MessageDeleter, detail::MessageHome).
//
// Every test here must be clean under AddressSanitizer (no leak, no use-after-free) and under
// ThreadSanitizer: the lifetime and thread tests exist to give the sanitizers something to look at.
// No sleeps, no timing assertions, bounded loops only.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "message/message_access.hpp"
#include "shared/message_pool.hpp"
#include "shared/message_queue.hpp"
#include "support/latch.hpp"

namespace {

using tofu::AllocationStrategy;
using tofu::AmpeStatus;
using tofu::BinaryHeader;
using tofu::Message;
using tofu::MessagePtr;
using tofu::Options;
using tofu::detail::MessageAccess;
using tofu::detail::MessagePool;
using tofu::test::Latch;

MessagePool::Ptr make_pool(std::uint32_t initial, std::uint32_t max) {
    return MessagePool::create(Options{.initial_pool_msgs = initial, .max_pool_msgs = max});
}

/// Fills every part of a message with non-default values.
void dirty(Message& m, std::uint64_t tag) {
    m.bhdr.channel_number = 7;
    m.bhdr.proto = tofu::ProtoFields{tofu::OpCode::hello_request, tofu::Origin::engine, true, true};
    m.bhdr.status = AmpeStatus::pool_empty;
    m.bhdr.message_id = tag;
    m.bhdr.text_headers_len = 11;
    m.bhdr.body_len = 13;
    m.thdrs.append("name", "value-" + std::to_string(tag));
    m.body.copy("body-" + std::to_string(tag));
}

/// Success when a message is in the state of a new one, which is what the pool must hand out.
::testing::AssertionResult is_pristine(const Message& m) {
    if (!(m.bhdr == BinaryHeader{})) {
        return ::testing::AssertionFailure() << "binary header not reset (message_id " << m.bhdr.message_id
                                             << ", channel " << m.bhdr.channel_number << ")";
    }
    if (!m.thdrs.empty() || m.thdrs.begin() != m.thdrs.end()) {
        return ::testing::AssertionFailure() << "text headers not empty: '" << m.thdrs.text() << "'";
    }
    if (!m.body.empty()) {
        return ::testing::AssertionFailure() << "body not empty: '" << m.body.text() << "'";
    }
    if (m.is_from_engine() || m.has_more()) {
        return ::testing::AssertionFailure() << "origin or more flag not reset";
    }
    return ::testing::AssertionSuccess();
}

// --- create ---------------------------------------------------------------------------------------

TEST(MessagePoolCreate, DefaultOptionsAre16And64) {
    const Options options{};
    EXPECT_EQ(options.initial_pool_msgs, 16U);
    EXPECT_EQ(options.max_pool_msgs, 64U);

    const MessagePool::Ptr pool = MessagePool::create(options);
    ASSERT_NE(pool, nullptr);
    EXPECT_EQ(pool->idle(), 16U);
    EXPECT_EQ(pool->outstanding(), 0U);
}

TEST(MessagePoolCreate, PreallocatesInitialMessages) {
    const std::vector<std::pair<std::uint32_t, std::uint32_t>> cases{{0, 1},  {1, 1},   {0, 5},  {3, 3},
                                                                     {5, 10}, {16, 64}, {64, 64}};
    for (const auto& [initial, max] : cases) {
        SCOPED_TRACE("initial " + std::to_string(initial) + ", max " + std::to_string(max));
        const MessagePool::Ptr pool = make_pool(initial, max);
        ASSERT_NE(pool, nullptr);
        EXPECT_EQ(pool->idle(), initial);
        EXPECT_EQ(pool->outstanding(), 0U);

        // The preallocated messages are really there: exactly `initial` pool_only gets succeed.
        std::vector<MessagePtr> held;
        std::set<const Message*> distinct;
        for (std::uint32_t i = 0; i < initial; ++i) {
            held.push_back(pool->get(AllocationStrategy::pool_only));
            ASSERT_NE(held.back(), nullptr) << "get #" << i;
            EXPECT_TRUE(is_pristine(*held.back()));
            distinct.insert(held.back().get());
        }
        EXPECT_EQ(distinct.size(), initial);
        EXPECT_EQ(pool->get(AllocationStrategy::pool_only), nullptr);
        EXPECT_EQ(pool->idle(), 0U);
        EXPECT_EQ(pool->outstanding(), initial);

        held.clear();
        EXPECT_EQ(pool->idle(), initial);
        EXPECT_EQ(pool->outstanding(), 0U);
    }
}

void expect_rejected(const Options& options) {
    SCOPED_TRACE("initial " + std::to_string(options.initial_pool_msgs) + ", max " +
                 std::to_string(options.max_pool_msgs));
    try {
        [[maybe_unused]] const MessagePool::Ptr pool = MessagePool::create(options);
        ADD_FAILURE() << "create() accepted invalid options";
    } catch (const tofu::Error& e) {
        EXPECT_EQ(e.status(), AmpeStatus::not_allowed);
        EXPECT_EQ(e.code(), std::error_code{AmpeStatus::not_allowed});
        EXPECT_NE(std::string{e.what()}, "");
    }
}

TEST(MessagePoolCreate, RejectsZeroMax) {
    expect_rejected(Options{.initial_pool_msgs = 0, .max_pool_msgs = 0});
    expect_rejected(Options{.initial_pool_msgs = 1, .max_pool_msgs = 0});
    expect_rejected(Options{.initial_pool_msgs = 16, .max_pool_msgs = 0});
}

TEST(MessagePoolCreate, RejectsMaxBelowInitial) {
    expect_rejected(Options{.initial_pool_msgs = 2, .max_pool_msgs = 1});
    expect_rejected(Options{.initial_pool_msgs = 65, .max_pool_msgs = 64});
    expect_rejected(Options{.initial_pool_msgs = 65});  // default max is 64
}

// --- the smallest pool, 1/1 -----------------------------------------------------------------------

class MessagePoolSmallest : public ::testing::TestWithParam<AllocationStrategy> {};

// The first get uses the parameter's strategy: with a message in the pool, both must hand out that
// message rather than allocate.
TEST_P(MessagePoolSmallest, OneMessageThenNullThenFreshThenSurplusFreed) {
    const MessagePool::Ptr pool = make_pool(1, 1);

    MessagePtr first = pool->get(GetParam());
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(pool->idle(), 0U);
    EXPECT_EQ(pool->outstanding(), 1U);

    EXPECT_EQ(pool->get(AllocationStrategy::pool_only), nullptr);
    EXPECT_EQ(pool->idle(), 0U);
    EXPECT_EQ(pool->outstanding(), 1U) << "a failed get must not count as handed out";

    MessagePtr second = pool->get(AllocationStrategy::always);
    ASSERT_NE(second, nullptr);
    EXPECT_NE(second.get(), first.get());
    EXPECT_TRUE(is_pristine(*second));
    EXPECT_EQ(pool->idle(), 0U);
    EXPECT_EQ(pool->outstanding(), 2U);

    const Message* const kept = first.get();
    first.reset();
    EXPECT_EQ(pool->idle(), 1U);
    EXPECT_EQ(pool->outstanding(), 1U);

    second.reset();  // pool is full (max 1): this one is freed
    EXPECT_EQ(pool->idle(), 1U);
    EXPECT_EQ(pool->outstanding(), 0U);

    MessagePtr again = pool->get(AllocationStrategy::pool_only);
    EXPECT_EQ(again.get(), kept);
    EXPECT_EQ(pool->get(AllocationStrategy::pool_only), nullptr);
}

INSTANTIATE_TEST_SUITE_P(BothStrategies, MessagePoolSmallest,
                         ::testing::Values(AllocationStrategy::pool_only, AllocationStrategy::always),
                         [](const ::testing::TestParamInfo<AllocationStrategy>& param_info) {
                             return std::string{param_info.param == AllocationStrategy::pool_only ? "PoolOnly"
                                                                                                  : "Always"};
                         });

TEST(MessagePoolGet, AlwaysAllocatesFromAnEmptyPoolAndTheNewMessageBelongsToThePool) {
    const MessagePool::Ptr pool = make_pool(0, 2);
    EXPECT_EQ(pool->get(AllocationStrategy::pool_only), nullptr);

    MessagePtr m = pool->get(AllocationStrategy::always);
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(is_pristine(*m));
    EXPECT_EQ(MessageAccess::home(*m), pool.get());
    EXPECT_EQ(pool->outstanding(), 1U);
    EXPECT_EQ(pool->idle(), 0U);

    const Message* const addr = m.get();
    m.reset();
    EXPECT_EQ(pool->idle(), 1U);
    EXPECT_EQ(pool->outstanding(), 0U);
    EXPECT_EQ(pool->get(AllocationStrategy::pool_only).get(), addr);
}

TEST(MessagePoolGet, HandedOutMessagesAreUnlinkedAndOwnedByThePool) {
    const MessagePool::Ptr pool = make_pool(4, 4);
    std::vector<MessagePtr> held;
    for (int i = 0; i < 4; ++i) {
        held.push_back(pool->get(AllocationStrategy::pool_only));
        ASSERT_NE(held.back(), nullptr);
        EXPECT_EQ(MessageAccess::home(*held.back()), pool.get());
        EXPECT_EQ(MessageAccess::next(*held.back()), nullptr) << "free-list link leaked to the caller";
    }
}

// --- return on death, reset, reuse ----------------------------------------------------------------

TEST(MessagePoolReuse, MessageReturnsWhenItsPointerDies) {
    const MessagePool::Ptr pool = make_pool(2, 4);
    {
        const MessagePtr m = pool->get(AllocationStrategy::always);
        ASSERT_NE(m, nullptr);
        EXPECT_EQ(pool->idle(), 1U);
        EXPECT_EQ(pool->outstanding(), 1U);
    }
    EXPECT_EQ(pool->idle(), 2U);
    EXPECT_EQ(pool->outstanding(), 0U);

    // Moving the pointer around does not return the message early; the last owner returns it.
    MessagePtr a = pool->get(AllocationStrategy::pool_only);
    MessagePtr b = std::move(a);
    EXPECT_EQ(pool->outstanding(), 1U);
    std::vector<MessagePtr> holder;
    holder.push_back(std::move(b));
    EXPECT_EQ(pool->outstanding(), 1U);
    EXPECT_EQ(pool->idle(), 1U);
    holder.clear();
    EXPECT_EQ(pool->outstanding(), 0U);
    EXPECT_EQ(pool->idle(), 2U);
}

TEST(MessagePoolReuse, ReturnedMessageIsResetButKeepsItsBodyCapacity) {
    constexpr std::size_t reserved = 4096;
    const MessagePool::Ptr pool = make_pool(1, 1);

    const Message* addr = nullptr;
    const std::byte* storage = nullptr;
    const std::byte* header_storage = nullptr;
    std::size_t capacity = 0;
    {
        MessagePtr m = pool->get(AllocationStrategy::pool_only);
        ASSERT_NE(m, nullptr);
        dirty(*m, 42);
        m->body.reserve(reserved);
        m->body.append(std::string(3000, 'x'));
        capacity = m->body.capacity();
        ASSERT_GE(capacity, reserved);
        addr = m.get();
        storage = m->body.data().data();
        header_storage = m->thdrs.data().data();
    }
    EXPECT_EQ(pool->idle(), 1U);

    MessagePtr m = pool->get(AllocationStrategy::pool_only);
    ASSERT_EQ(m.get(), addr);
    EXPECT_TRUE(is_pristine(*m));
    EXPECT_EQ(m->thdrs.find("name"), std::nullopt);
    EXPECT_EQ(m->body.text(), "");
    EXPECT_GE(m->body.capacity(), reserved);
    EXPECT_EQ(m->body.capacity(), capacity);
    // Same storage: the body was not reallocated, and filling it up to its capacity does not either.
    EXPECT_EQ(m->body.data().data(), storage);
    m->body.append(std::string(reserved, 'y'));
    EXPECT_EQ(m->body.data().data(), storage);
    EXPECT_EQ(m->body.size(), reserved);
    // The text headers keep their storage too.
    EXPECT_EQ(m->thdrs.data().data(), header_storage);
    m->thdrs.append("name", "value-42");
    EXPECT_EQ(m->thdrs.data().data(), header_storage);
    EXPECT_EQ(m->thdrs.find("name"), "value-42");
}

TEST(MessagePoolReuse, SurplusMessageFromAlwaysIsResetToo) {
    const MessagePool::Ptr pool = make_pool(0, 1);
    {
        MessagePtr m = pool->get(AllocationStrategy::always);
        ASSERT_NE(m, nullptr);
        dirty(*m, 7);
    }
    const MessagePtr m = pool->get(AllocationStrategy::pool_only);
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(is_pristine(*m));
}

TEST(MessagePoolReuse, GetAndPutHandOutTheSameMessagesAgain) {
    constexpr std::uint32_t n = 8;
    const MessagePool::Ptr pool = make_pool(n, n);

    std::set<const Message*> original;
    {
        std::vector<MessagePtr> held;
        for (std::uint32_t i = 0; i < n; ++i) {
            held.push_back(pool->get(AllocationStrategy::pool_only));
            ASSERT_NE(held.back(), nullptr);
            original.insert(held.back().get());
        }
        ASSERT_EQ(original.size(), n);
        EXPECT_EQ(pool->get(AllocationStrategy::pool_only), nullptr);
    }
    EXPECT_EQ(pool->idle(), n);

    // Several rounds, with both strategies and both ways of returning: no new message ever appears.
    for (int round = 0; round < 4; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        const AllocationStrategy strategy =
            round % 2 == 0 ? AllocationStrategy::always : AllocationStrategy::pool_only;
        std::vector<MessagePtr> held;
        std::set<const Message*> again;
        for (std::uint32_t i = 0; i < n; ++i) {
            held.push_back(pool->get(strategy));
            ASSERT_NE(held.back(), nullptr);
            dirty(*held.back(), i);
            again.insert(held.back().get());
        }
        EXPECT_EQ(again, original);
        EXPECT_EQ(pool->idle(), 0U);
        EXPECT_EQ(pool->outstanding(), n);
        if (round < 2) {
            held.clear();
        } else {
            for (MessagePtr& m : held) {
                pool->put(std::move(m));
            }
        }
        EXPECT_EQ(pool->idle(), n);
        EXPECT_EQ(pool->outstanding(), 0U);
    }
}

// --- put ------------------------------------------------------------------------------------------

TEST(MessagePoolPut, PutOfOwnMessageReturnsItAndEmptiesThePointer) {
    const MessagePool::Ptr pool = make_pool(2, 2);
    MessagePtr m = pool->get(AllocationStrategy::pool_only);
    ASSERT_NE(m, nullptr);
    dirty(*m, 1);
    const Message* const addr = m.get();

    pool->put(std::move(m));
    EXPECT_EQ(m, nullptr);  // NOLINT(bugprone-use-after-move): put() must leave it empty
    EXPECT_EQ(pool->idle(), 2U);
    EXPECT_EQ(pool->outstanding(), 0U);

    const MessagePtr back = pool->get(AllocationStrategy::pool_only);
    ASSERT_EQ(back.get(), addr);
    EXPECT_TRUE(is_pristine(*back));
}

TEST(MessagePoolPut, AdoptsAStandaloneMessage) {
    const MessagePool::Ptr pool = make_pool(0, 4);
    MessagePtr standalone = Message::create();
    ASSERT_NE(standalone, nullptr);
    EXPECT_EQ(MessageAccess::home(*standalone), nullptr);
    dirty(*standalone, 9);
    const Message* const addr = standalone.get();

    pool->put(std::move(standalone));
    EXPECT_EQ(standalone, nullptr);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(pool->idle(), 1U);
    EXPECT_EQ(pool->outstanding(), 0U);

    MessagePtr adopted = pool->get(AllocationStrategy::pool_only);
    ASSERT_EQ(adopted.get(), addr);
    EXPECT_TRUE(is_pristine(*adopted));
    EXPECT_EQ(MessageAccess::home(*adopted), pool.get());
    EXPECT_EQ(pool->idle(), 0U);
    EXPECT_EQ(pool->outstanding(), 1U);

    // From now on it belongs to the pool: dropping the pointer returns it.
    adopted.reset();
    EXPECT_EQ(pool->idle(), 1U);
    EXPECT_EQ(pool->outstanding(), 0U);
}

TEST(MessagePoolPut, AdoptingIntoAFullPoolFreesTheMessage) {
    const MessagePool::Ptr pool = make_pool(1, 1);
    for (int i = 0; i < 5; ++i) {
        MessagePtr standalone = Message::create();
        dirty(*standalone, static_cast<std::uint64_t>(i));
        pool->put(std::move(standalone));
        EXPECT_EQ(pool->idle(), 1U);
        EXPECT_EQ(pool->outstanding(), 0U);
    }
}

TEST(MessagePoolPut, StandaloneMessagesDoNotTouchThePool) {
    const MessagePool::Ptr pool = make_pool(2, 4);
    {
        MessagePtr pooled = pool->get(AllocationStrategy::pool_only);
        ASSERT_NE(pooled, nullptr);
        dirty(*pooled, 3);
        const MessagePtr copy = pooled->clone();  // a clone is standalone
        ASSERT_NE(copy, nullptr);
        EXPECT_EQ(MessageAccess::home(*copy), nullptr);
        EXPECT_EQ(copy->bhdr.message_id, 3U);
        const MessagePtr other = Message::create();
        EXPECT_EQ(pool->idle(), 1U);
        EXPECT_EQ(pool->outstanding(), 1U);
    }
    EXPECT_EQ(pool->idle(), 2U);
    EXPECT_EQ(pool->outstanding(), 0U);
}

TEST(MessagePoolPut, CloneOfAPooledMessageCanBeAdopted) {
    const MessagePool::Ptr pool = make_pool(1, 4);
    MessagePtr pooled = pool->get(AllocationStrategy::pool_only);
    ASSERT_NE(pooled, nullptr);
    dirty(*pooled, 5);
    pool->put(pooled->clone());
    EXPECT_EQ(pool->idle(), 1U);
    EXPECT_EQ(pool->outstanding(), 1U);
    pooled.reset();
    EXPECT_EQ(pool->idle(), 2U);
    EXPECT_EQ(pool->outstanding(), 0U);
}

TEST(MessagePoolPut, NullPointerIsHarmless) {
    const MessagePool::Ptr pool = make_pool(2, 4);
    pool->put(MessagePtr{});
    MessagePtr empty;
    pool->put(std::move(empty));
    EXPECT_EQ(empty, nullptr);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(pool->idle(), 2U);
    EXPECT_EQ(pool->outstanding(), 0U);

    // Also with messages out and with the pool empty.
    MessagePtr a = pool->get(AllocationStrategy::pool_only);
    MessagePtr b = pool->get(AllocationStrategy::pool_only);
    pool->put(MessagePtr{});
    EXPECT_EQ(pool->idle(), 0U);
    EXPECT_EQ(pool->outstanding(), 2U);
    EXPECT_NE(a, nullptr);
    EXPECT_NE(b, nullptr);
}

TEST(MessagePoolPut, MessageOfAnotherPoolGoesBackToThatPool) {
    const MessagePool::Ptr a = make_pool(2, 4);
    const MessagePool::Ptr b = make_pool(3, 4);

    MessagePtr from_a = a->get(AllocationStrategy::pool_only);
    ASSERT_NE(from_a, nullptr);
    const Message* const addr = from_a.get();
    EXPECT_EQ(a->idle(), 1U);
    EXPECT_EQ(a->outstanding(), 1U);

    b->put(std::move(from_a));
    EXPECT_EQ(from_a, nullptr);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(a->idle(), 2U);
    EXPECT_EQ(a->outstanding(), 0U);
    EXPECT_EQ(b->idle(), 3U);
    EXPECT_EQ(b->outstanding(), 0U);

    // It is in a's free list, not b's.
    const MessagePtr again = a->get(AllocationStrategy::pool_only);
    EXPECT_EQ(again.get(), addr);
    EXPECT_EQ(MessageAccess::home(*again), a.get());
}

// --- max_pool_msgs --------------------------------------------------------------------------------

TEST(MessagePoolMax, ReturningMoreThanMaxFreesTheSurplus) {
    constexpr std::uint32_t max = 4;
    const MessagePool::Ptr pool = make_pool(2, max);

    std::vector<MessagePtr> held;
    for (int i = 0; i < 10; ++i) {
        held.push_back(pool->get(AllocationStrategy::always));
        ASSERT_NE(held.back(), nullptr);
    }
    EXPECT_EQ(pool->idle(), 0U);
    EXPECT_EQ(pool->outstanding(), 10U);

    std::size_t returned = 0;
    for (MessagePtr& m : held) {
        if (returned % 2 == 0) {
            m.reset();
        } else {
            pool->put(std::move(m));
        }
        ++returned;
        EXPECT_EQ(pool->idle(), std::min<std::size_t>(returned, max)) << "after " << returned;
        EXPECT_EQ(pool->outstanding(), 10U - returned);
    }
    EXPECT_EQ(pool->idle(), max);
    EXPECT_EQ(pool->outstanding(), 0U);

    // Adopting standalone messages into the full pool does not grow it either.
    for (int i = 0; i < 6; ++i) {
        pool->put(Message::create());
        EXPECT_EQ(pool->idle(), max);
    }
    EXPECT_EQ(pool->outstanding(), 0U);
}

// --- refill hook ----------------------------------------------------------------------------------

TEST(MessagePoolRefillHook, NotCalledOnOrdinaryPuts) {
    const MessagePool::Ptr pool = make_pool(2, 4);
    int calls = 0;
    pool->set_refill_hook([&calls] { ++calls; });

    for (int i = 0; i < 3; ++i) {
        MessagePtr a = pool->get(AllocationStrategy::pool_only);
        MessagePtr b = pool->get(AllocationStrategy::always);
        pool->put(std::move(a));
        b.reset();
        pool->put(Message::create());
        pool->put(MessagePtr{});
    }
    EXPECT_EQ(calls, 0);

    // A get(always) that finds the pool empty allocates and does not arm the hook.
    std::vector<MessagePtr> held;
    held.reserve(6);
    for (int i = 0; i < 6; ++i) {
        held.push_back(pool->get(AllocationStrategy::always));
    }
    held.clear();
    EXPECT_EQ(calls, 0);
}

TEST(MessagePoolRefillHook, CalledOnceOnTheFirstPutAfterAnEmptyPoolOnlyGet) {
    const MessagePool::Ptr pool = make_pool(1, 4);
    int calls = 0;
    pool->set_refill_hook([&calls] { ++calls; });

    MessagePtr m = pool->get(AllocationStrategy::pool_only);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(pool->get(AllocationStrategy::pool_only), nullptr);
    EXPECT_EQ(calls, 0) << "the hook is for the put, not the failed get";

    m.reset();
    EXPECT_EQ(calls, 1);

    // Later puts do not call it again...
    for (int i = 0; i < 3; ++i) {
        MessagePtr x = pool->get(AllocationStrategy::pool_only);
        ASSERT_NE(x, nullptr);
        pool->put(std::move(x));
        pool->put(Message::create());
    }
    EXPECT_EQ(calls, 1);

    // ...until another pool_only get finds the pool empty.
    std::vector<MessagePtr> held;
    while (MessagePtr x = pool->get(AllocationStrategy::pool_only)) {
        held.push_back(std::move(x));
    }
    EXPECT_EQ(held.size(), 4U);
    EXPECT_EQ(calls, 1);
    held.pop_back();
    EXPECT_EQ(calls, 2);
    held.clear();
    EXPECT_EQ(calls, 2);
}

TEST(MessagePoolRefillHook, SeveralEmptyGetsStillMeanOneCall) {
    const MessagePool::Ptr pool = make_pool(0, 4);
    int calls = 0;
    pool->set_refill_hook([&calls] { ++calls; });

    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(pool->get(AllocationStrategy::pool_only), nullptr);
    }
    MessagePtr a = pool->get(AllocationStrategy::always);
    MessagePtr b = pool->get(AllocationStrategy::always);
    EXPECT_EQ(calls, 0);
    a.reset();
    EXPECT_EQ(calls, 1);
    b.reset();
    EXPECT_EQ(calls, 1);
}

TEST(MessagePoolRefillHook, AdoptedMessageRefillsThePool) {
    const MessagePool::Ptr pool = make_pool(0, 4);
    int calls = 0;
    pool->set_refill_hook([&calls] { ++calls; });

    EXPECT_EQ(pool->get(AllocationStrategy::pool_only), nullptr);
    pool->put(Message::create());
    EXPECT_EQ(calls, 1);
    EXPECT_NE(pool->get(AllocationStrategy::pool_only), nullptr);
}

TEST(MessagePoolRefillHook, PutOfAnotherPoolsMessageDoesNotRefillThisPool) {
    const MessagePool::Ptr a = make_pool(0, 4);
    const MessagePool::Ptr b = make_pool(1, 4);
    int a_calls = 0;
    int b_calls = 0;
    a->set_refill_hook([&a_calls] { ++a_calls; });
    b->set_refill_hook([&b_calls] { ++b_calls; });

    EXPECT_EQ(a->get(AllocationStrategy::pool_only), nullptr);
    MessagePtr from_b = b->get(AllocationStrategy::pool_only);
    ASSERT_NE(from_b, nullptr);
    a->put(std::move(from_b));  // goes to b, which was never starved
    EXPECT_EQ(a_calls, 0);
    EXPECT_EQ(b_calls, 0);
    EXPECT_EQ(a->idle(), 0U);
    EXPECT_EQ(b->idle(), 1U);
    EXPECT_EQ(a->get(AllocationStrategy::pool_only), nullptr) << "a is still empty";

    // a is still armed: its own message coming back calls its hook.
    a->put(a->get(AllocationStrategy::always));
    EXPECT_EQ(a_calls, 1);
    EXPECT_EQ(b_calls, 0);
}

TEST(MessagePoolRefillHook, ReplacedOrClearedHook) {
    const MessagePool::Ptr pool = make_pool(1, 4);
    int first = 0;
    int second = 0;
    pool->set_refill_hook([&first] { ++first; });
    pool->set_refill_hook([&second] { ++second; });

    MessagePtr m = pool->get(AllocationStrategy::pool_only);
    EXPECT_EQ(pool->get(AllocationStrategy::pool_only), nullptr);
    m.reset();
    EXPECT_EQ(first, 0);
    EXPECT_EQ(second, 1);

    pool->set_refill_hook(nullptr);
    m = pool->get(AllocationStrategy::pool_only);
    EXPECT_EQ(pool->get(AllocationStrategy::pool_only), nullptr);
    m.reset();  // no hook: nothing to call, nothing to crash
    EXPECT_EQ(pool->idle(), 1U);
    EXPECT_EQ(second, 1);
}

// --- lifetime -------------------------------------------------------------------------------------

TEST(MessagePoolLifetime, DestroyingThePoolWithNothingOutFreesEverything) {
    MessagePool::Ptr pool = make_pool(8, 16);
    {
        std::vector<MessagePtr> held;
        for (int i = 0; i < 12; ++i) {
            held.push_back(pool->get(AllocationStrategy::always));
            held.back()->body.append(std::string(100, 'z'));
        }
    }
    EXPECT_EQ(pool->idle(), 12U);
    pool.reset();  // AddressSanitizer's leak check covers the 12 idle messages
    EXPECT_EQ(pool, nullptr);
}

TEST(MessagePoolLifetime, MessagesOutliveThePool) {
    MessagePool::Ptr pool = make_pool(4, 8);
    int hook_calls = 0;
    pool->set_refill_hook([&hook_calls] { ++hook_calls; });

    std::vector<MessagePtr> held;
    held.reserve(5);
    for (int i = 0; i < 4; ++i) {
        held.push_back(pool->get(AllocationStrategy::pool_only));
    }
    EXPECT_EQ(pool->get(AllocationStrategy::pool_only), nullptr);  // arms the hook
    held.push_back(pool->get(AllocationStrategy::always));         // one beyond the preallocated
    for (std::size_t i = 0; i < held.size(); ++i) {
        ASSERT_NE(held[i], nullptr);
        dirty(*held[i], i);
    }

    pool.reset();

    // The messages are still valid to use and to release; the hook is not called any more.
    for (std::size_t i = 0; i < held.size(); ++i) {
        EXPECT_EQ(held[i]->bhdr.message_id, i);
        held[i]->body.append(std::string(2000, 'q'));
        EXPECT_EQ(held[i]->body.size(), 2000U + ("body-" + std::to_string(i)).size());
    }
    held.erase(held.begin() + 1);  // out of order
    held.back().reset();
    held.clear();
    EXPECT_EQ(hook_calls, 0);
}

TEST(MessagePoolLifetime, MessageOfAClosedPoolPutIntoALivePool) {
    MessagePool::Ptr closed = make_pool(2, 2);
    const MessagePool::Ptr live = make_pool(1, 4);

    MessagePtr orphan = closed->get(AllocationStrategy::pool_only);
    ASSERT_NE(orphan, nullptr);
    closed.reset();

    live->put(std::move(orphan));  // goes to the closed pool, which frees it and then itself
    EXPECT_EQ(orphan, nullptr);    // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(live->idle(), 1U);
    EXPECT_EQ(live->outstanding(), 0U);
}

TEST(MessagePoolLifetime, LastMessageBackDeletesThePoolEvenIfItWasASurplusOne) {
    MessagePool::Ptr pool = make_pool(0, 1);
    MessagePtr a = pool->get(AllocationStrategy::always);
    MessagePtr b = pool->get(AllocationStrategy::always);
    a.reset();  // fills the pool (max 1)
    pool.reset();
    b.reset();  // the last one back: the pool goes with it (checked by the leak sanitizer)
    EXPECT_EQ(b, nullptr);
}

// Release messages on other threads while the pool's owner destroys it: close() and take_back()
// race on the last message. Under the sanitizers: no leak, no double free, no data race.
TEST(MessagePoolLifetime, ConcurrentCloseAndRelease) {
    constexpr int rounds = 200;
    constexpr int per_thread = 4;
    for (int round = 0; round < rounds; ++round) {
        MessagePool::Ptr pool = make_pool(4, 8);
        std::vector<MessagePtr> first;
        std::vector<MessagePtr> second;
        for (int i = 0; i < per_thread; ++i) {
            first.push_back(pool->get(AllocationStrategy::always));
            second.push_back(pool->get(AllocationStrategy::always));
        }
        Latch start{3};
        auto release_all = [&start](std::vector<MessagePtr>& msgs) {
            start.arrive_and_wait();
            for (MessagePtr& m : msgs) {
                m->body.copy("last words");
                m.reset();
            }
        };
        std::thread t1{release_all, std::ref(first)};
        std::thread t2{release_all, std::ref(second)};
        start.arrive_and_wait();
        pool.reset();
        t1.join();
        t2.join();
        ASSERT_EQ(pool, nullptr);
    }
}

// --- threads --------------------------------------------------------------------------------------

TEST(MessagePoolThreads, ConcurrentGetModifyReleaseAndAdopt) {
    constexpr std::uint32_t initial = 4;
    constexpr std::uint32_t max = 8;
    constexpr int always_threads = 4;
    constexpr int pool_only_threads = 2;
    constexpr int iterations = 20'000;

    const MessagePool::Ptr pool = make_pool(initial, max);
    std::atomic<std::size_t> hook_calls{0};
    pool->set_refill_hook([&hook_calls] { hook_calls.fetch_add(1, std::memory_order_relaxed); });

    std::atomic<std::size_t> null_gets{0};
    std::atomic<std::size_t> pool_only_hits{0};
    std::atomic<std::size_t> failures{0};

    // Writes a tag the owner reads back: a message handed to two owners at once would show.
    auto use = [&failures](Message& m, std::uint64_t tag) {
        if (!is_pristine(m)) {
            failures.fetch_add(1, std::memory_order_relaxed);
        }
        const std::string text = std::to_string(tag);
        m.bhdr.message_id = tag;
        m.body.copy(text);
        m.body.append(std::string(tag % 64, 'p'));
        if (tag % 8 == 0) {
            m.thdrs.append("tag", text);
        }
        if (m.bhdr.message_id != tag || m.body.text().substr(0, text.size()) != text ||
            m.body.size() != text.size() + tag % 64) {
            failures.fetch_add(1, std::memory_order_relaxed);
        }
    };

    Latch start{always_threads + pool_only_threads};
    std::vector<std::thread> threads;
    threads.reserve(always_threads + pool_only_threads);
    for (int t = 0; t < always_threads; ++t) {
        threads.emplace_back([&, t] {
            start.arrive_and_wait();
            std::vector<MessagePtr> held;
            for (int i = 0; i < iterations; ++i) {
                const auto tag = (static_cast<std::uint64_t>(t) << 32U) | static_cast<std::uint64_t>(i);
                // Hold one to three messages at once so the pool runs dry and overflows.
                const int count = 1 + i % 3;
                for (int k = 0; k < count; ++k) {
                    MessagePtr m = pool->get(AllocationStrategy::always);
                    if (m == nullptr) {
                        failures.fetch_add(1, std::memory_order_relaxed);
                        continue;
                    }
                    use(*m, tag + static_cast<std::uint64_t>(k));
                    held.push_back(std::move(m));
                }
                for (std::size_t k = 0; k < held.size(); ++k) {
                    if (held[k]->bhdr.message_id != tag + k) {
                        failures.fetch_add(1, std::memory_order_relaxed);
                    }
                }
                if (i % 2 == 0) {
                    held.clear();
                } else {
                    for (MessagePtr& m : held) {
                        pool->put(std::move(m));
                    }
                    held.clear();
                }
                if (i % 5 == 0) {  // adoption runs concurrently with everything else too
                    MessagePtr standalone = Message::create();
                    use(*standalone, tag);
                    pool->put(std::move(standalone));
                }
            }
        });
    }
    for (int t = 0; t < pool_only_threads; ++t) {
        threads.emplace_back([&, t] {
            start.arrive_and_wait();
            for (int i = 0; i < iterations; ++i) {
                if (pool->idle() > max) {
                    failures.fetch_add(1, std::memory_order_relaxed);
                }
                MessagePtr m = pool->get(AllocationStrategy::pool_only);
                if (m == nullptr) {
                    null_gets.fetch_add(1, std::memory_order_relaxed);
                    continue;
                }
                pool_only_hits.fetch_add(1, std::memory_order_relaxed);
                const auto tag =
                    (static_cast<std::uint64_t>(always_threads + t) << 32U) | static_cast<std::uint64_t>(i);
                use(*m, tag);
                if (i % 3 == 0) {
                    pool->put(std::move(m));
                }
            }
        });
    }
    for (std::thread& th : threads) {
        th.join();
    }

    EXPECT_EQ(failures.load(), 0U);
    EXPECT_EQ(pool->outstanding(), 0U);
    EXPECT_LE(pool->idle(), max);
    EXPECT_GE(pool->idle(), 1U);
    EXPECT_GT(pool_only_hits.load(), 0U);
    // The hook fires at most once per empty get, and at least once if any get found the pool empty
    // (a message was out then, and it came back).
    EXPECT_LE(hook_calls.load(), null_gets.load());
    if (null_gets.load() > 0) {
        EXPECT_GE(hook_calls.load(), 1U);
    }
    // Nothing is left armed or lost: the pool hands out what it holds.
    const std::size_t idle = pool->idle();
    std::vector<MessagePtr> drained;
    while (MessagePtr m = pool->get(AllocationStrategy::pool_only)) {
        EXPECT_TRUE(is_pristine(*m));
        drained.push_back(std::move(m));
    }
    EXPECT_EQ(drained.size(), idle);
}

// Messages taken on one thread and released on another, as the engine and the application do.
TEST(MessagePoolThreads, HandOffBetweenThreads) {
    constexpr int messages = 20'000;
    constexpr std::uint32_t max = 16;
    const MessagePool::Ptr pool = make_pool(4, max);

    std::mutex mutex;
    std::condition_variable ready;
    std::deque<MessagePtr> queue;
    std::size_t failures = 0;  // written by the consumer only

    std::thread consumer{[&] {
        for (int received = 0; received < messages; ++received) {
            MessagePtr m;
            {
                std::unique_lock lock{mutex};
                ready.wait(lock, [&queue] { return !queue.empty(); });
                m = std::move(queue.front());
                queue.pop_front();
            }
            if (m->bhdr.message_id != static_cast<std::uint64_t>(received) ||
                m->body.text() != std::to_string(received)) {
                ++failures;
            }
            if (received % 2 == 0) {
                m.reset();
            } else {
                pool->put(std::move(m));
            }
        }
    }};
    for (int sent = 0; sent < messages; ++sent) {
        MessagePtr m = pool->get(AllocationStrategy::always);
        if (m == nullptr) {  // no ASSERT here: the consumer still waits for this message
            ADD_FAILURE() << "get(always) returned null";
            m = Message::create();
        }
        m->bhdr.message_id = static_cast<std::uint64_t>(sent);
        m->body.copy(std::to_string(sent));
        {
            const std::lock_guard lock{mutex};
            queue.push_back(std::move(m));
        }
        ready.notify_one();
    }
    consumer.join();

    EXPECT_EQ(failures, 0U);
    EXPECT_EQ(pool->outstanding(), 0U);
    EXPECT_LE(pool->idle(), max);
    EXPECT_GE(pool->idle(), 1U);
}

// --- wait_get: the sender's flow control ----------------------------------------------------------

TEST(MessagePoolWaitGet, TakesIdleMessagesDownToAQuarterOfThePoolThenTimesOut) {
    const MessagePool::Ptr pool = make_pool(16, 16);
    std::vector<MessagePtr> held;
    for (int i = 0; i < 12; ++i) {
        MessagePtr m = pool->wait_get(std::chrono::nanoseconds::zero());
        ASSERT_NE(m, nullptr) << "message " << i;
        EXPECT_TRUE(is_pristine(*m));
        held.push_back(std::move(m));
    }
    // Four of sixteen stay for the engine's reads, however long the sender waits.
    EXPECT_EQ(pool->wait_get(std::chrono::milliseconds{1}), nullptr);
    EXPECT_EQ(pool->idle(), 4U);
    // ...while pool_only still hands them out (the engine takes its messages this way).
    EXPECT_NE(pool->get(AllocationStrategy::pool_only), nullptr);
}

TEST(MessagePoolWaitGet, NeverAllocates) {
    const MessagePool::Ptr pool = make_pool(0, 8);
    EXPECT_EQ(pool->wait_get(std::chrono::milliseconds{1}), nullptr);
    EXPECT_EQ(pool->outstanding(), 0U);
}

TEST(MessagePoolWaitGet, WakesWhenABatchComesBackFromAnotherThread) {
    const MessagePool::Ptr pool = make_pool(16, 16);
    std::vector<MessagePtr> held;
    while (MessagePtr m = pool->wait_get(std::chrono::nanoseconds::zero())) {
        held.push_back(std::move(m));
    }
    ASSERT_EQ(held.size(), 12U);
    std::thread returner{[&held] { held.clear(); }};  // twelve come back: more than a batch
    MessagePtr got = pool->wait_get(tofu::wait_forever);
    returner.join();
    ASSERT_NE(got, nullptr);
    EXPECT_TRUE(is_pristine(*got));
}

// The engine gives back its written messages as one batch, applications one at a time; a waiting
// sender must wake once both together cover its need, whatever came first. (A batch once taken
// straight onto the idle list re-armed the returns alarm past the single returns already waiting
// on the stack, and the sender slept with enough messages back.)
TEST(MessagePoolWaitGet, WakesWhenSingleReturnsAndABatchTogetherCoverItsNeed) {
    const MessagePool::Ptr pool = make_pool(64, 64);
    std::vector<MessagePtr> singles;
    while (MessagePtr m = pool->wait_get(std::chrono::nanoseconds::zero())) {
        singles.push_back(std::move(m));  // down to the quarter left to the engine
    }
    tofu::detail::MessageQueue batch;
    while (MessagePtr m = pool->get(AllocationStrategy::pool_only)) {
        batch.push_back(std::move(m));  // the engine's share
    }
    ASSERT_EQ(singles.size(), 48U);
    ASSERT_EQ(batch.size(), 16U);

    constexpr auto patience = std::chrono::seconds{60};
    std::atomic<bool> got{false};
    std::atomic<bool> timed_out{false};
    Latch started{1};
    std::thread sender{[&] {
        started.count_down();
        const auto deadline = std::chrono::steady_clock::now() + patience;
        got = pool->wait_get(patience) != nullptr;
        // A lost wake-up shows as a wait that lasted its whole patience (its last look at the
        // deadline then finds the messages).
        timed_out = std::chrono::steady_clock::now() >= deadline;
    }};
    started.wait();
    for (int i = 0; i < 30'000'000 && pool->waiting() == 0; ++i) {  // bounded: asleep in a moment
        std::this_thread::yield();
    }
    ASSERT_EQ(pool->waiting(), 1) << "the sender never waited";
    // It wakes at 24 idle (a quarter plus an eighth of 64): 10 single returns, then the batch.
    singles.resize(singles.size() - 10);
    pool->take_back_all(batch);
    sender.join();
    EXPECT_TRUE(got);
    EXPECT_FALSE(timed_out) << "the sender slept its whole wait though 26 messages were back";
}

TEST(MessagePoolWaitGet, ClosingThePoolEndsTheWaitWithNothing) {
    MessagePool::Ptr pool = make_pool(4, 4);
    std::vector<MessagePtr> held;  // keeps the closed pool alive until the end
    while (MessagePtr m = pool->wait_get(std::chrono::nanoseconds::zero())) {
        held.push_back(std::move(m));
    }
    std::atomic<bool> returned_null{false};
    Latch started{1};
    MessagePool* raw = pool.get();
    std::thread waiter{[&] {
        started.count_down();
        returned_null = raw->wait_get(std::chrono::seconds{60}) == nullptr;
    }};
    started.wait();
    pool.reset();  // asleep or not yet: the waiter sees the pool closed and gets nothing
    waiter.join();
    EXPECT_TRUE(returned_null);
    held.clear();  // the last message back deletes the pool
}

// Returns take no lock; a sender waiting in wait_get relies on the returners to notice it. If one
// wake-up were lost, a wait would end only at its (generous) timeout with nothing: the test fails.
TEST(MessagePoolWaitGet, NoWakeUpIsLostWhileManyThreadsReturn) {
    constexpr int returners = 4;
    constexpr int messages = 20'000;
    const MessagePool::Ptr pool = make_pool(8, 8);

    std::mutex mutex;
    std::condition_variable ready;
    std::deque<MessagePtr> queue;
    bool done = false;
    std::vector<std::thread> threads;
    threads.reserve(returners);
    for (int t = 0; t < returners; ++t) {
        threads.emplace_back([&] {
            for (;;) {
                MessagePtr m;
                {
                    std::unique_lock lock{mutex};
                    ready.wait(lock, [&] { return !queue.empty() || done; });
                    if (queue.empty()) {
                        return;
                    }
                    m = std::move(queue.front());
                    queue.pop_front();
                }
                m->body.copy("returned");
                m.reset();  // the lock-free return path
            }
        });
    }
    int got = 0;
    for (; got < messages; ++got) {
        MessagePtr m = pool->wait_get(std::chrono::seconds{30});
        if (m == nullptr) {
            break;
        }
        EXPECT_TRUE(is_pristine(*m));
        {
            const std::lock_guard lock{mutex};
            queue.push_back(std::move(m));
        }
        ready.notify_one();
    }
    {
        const std::lock_guard lock{mutex};
        done = true;
    }
    ready.notify_all();
    for (std::thread& t : threads) {
        t.join();
    }
    EXPECT_EQ(got, messages) << "a wait_get timed out: a return did not wake it";
    EXPECT_EQ(pool->outstanding(), 0U);
    EXPECT_EQ(pool->idle(), 8U);
}

// The engine's pattern: a pool_only get finds the pool empty, and the next return from any
// thread must call the refill hook exactly once; the engine then takes what came back.
TEST(MessagePoolRefillHook, CalledForEveryStarvationWhileOtherThreadsReturn) {
    constexpr int rounds = 2'000;
    const MessagePool::Ptr pool = make_pool(2, 2);
    std::mutex mutex;
    std::condition_variable refilled;
    int calls = 0;
    pool->set_refill_hook([&] {
        {
            const std::lock_guard lock{mutex};
            ++calls;
        }
        refilled.notify_one();
    });
    for (int round = 0; round < rounds; ++round) {
        MessagePtr a = pool->get(AllocationStrategy::pool_only);
        MessagePtr b = pool->get(AllocationStrategy::pool_only);
        ASSERT_NE(a, nullptr);
        ASSERT_NE(b, nullptr);
        ASSERT_EQ(pool->get(AllocationStrategy::pool_only), nullptr) << "round " << round;
        std::thread returner{[&a, &b] {
            a.reset();
            b.reset();
        }};
        {
            std::unique_lock lock{mutex};
            ASSERT_TRUE(refilled.wait_for(lock, std::chrono::seconds{30}, [&] { return calls == round + 1; }))
                << "round " << round << ": no refill call";
        }
        returner.join();
    }
    EXPECT_EQ(calls, rounds);
    pool->set_refill_hook(nullptr);
}

// The engine may take returns itself (read targets through `take_idle`) before the returner's
// count reaches the alarm: the hook must be called all the same, or a starved channel waits for a
// return that never comes (the soak stall). Whoever drains first calls it, so by the time
// `take_idle` hands the message over, the hook has run.
TEST(MessagePoolRefillHook, CalledWhenTheEngineTakesTheReturnsItself) {
    constexpr int rounds = 5'000;
    const MessagePool::Ptr pool = make_pool(1, 64);
    std::atomic<int> calls{0};
    pool->set_refill_hook([&calls] { calls.fetch_add(1, std::memory_order_relaxed); });
    for (int round = 0; round < rounds; ++round) {
        MessagePtr held = pool->get(AllocationStrategy::pool_only);
        ASSERT_NE(held, nullptr);
        ASSERT_EQ(pool->get(AllocationStrategy::pool_only), nullptr) << "round " << round;
        std::thread returner{[&held] { held.reset(); }};
        tofu::detail::MessageQueue into;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
        while (pool->take_idle(into, 1) == 0 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::yield();  // the returner needs the core more than this loop does
        }
        returner.join();
        ASSERT_EQ(into.size(), 1U) << "round " << round << ": the return never showed";
        ASSERT_EQ(calls.load(), round + 1) << "round " << round << ": the engine took the return unannounced";
        into.clear();  // back to the pool for the next round
    }
    pool->set_refill_hook(nullptr);
}

TEST(MessagePoolTakeIdle, MovesUpToTheAskedNumberWithoutAllocatingOrArmingTheHook) {
    const MessagePool::Ptr pool = make_pool(5, 8);
    int calls = 0;
    pool->set_refill_hook([&calls] { ++calls; });
    tofu::detail::MessageQueue into;
    EXPECT_EQ(pool->take_idle(into, 3), 3U);
    EXPECT_EQ(into.size(), 3U);
    EXPECT_EQ(pool->take_idle(into, 10), 2U) << "only what is idle";
    EXPECT_EQ(pool->take_idle(into, 10), 0U);
    EXPECT_EQ(into.size(), 5U);
    EXPECT_EQ(pool->outstanding(), 5U);
    into.clear();  // back to the pool
    EXPECT_EQ(calls, 0) << "an empty take_idle does not arm the refill hook";
    EXPECT_EQ(pool->idle(), 5U);
    pool->set_refill_hook(nullptr);
}

TEST(MessagePoolTryGet, TakesAnIdleMessageOrNothingWithoutAllocatingOrArmingTheHook) {
    const MessagePool::Ptr pool = make_pool(1, 4);
    int calls = 0;
    pool->set_refill_hook([&calls] { ++calls; });
    MessagePtr one = pool->try_get();
    ASSERT_NE(one, nullptr);
    EXPECT_EQ(pool->try_get(), nullptr) << "none idle: nothing, and nothing made";
    EXPECT_EQ(pool->outstanding(), 1U);
    one.reset();
    EXPECT_EQ(calls, 0) << "an empty try_get does not arm the refill hook";
    EXPECT_EQ(pool->idle(), 1U);
    pool->set_refill_hook(nullptr);
}

TEST(MessagePoolGetForRead, MakesMessagesUntilThePoolHoldsItsMaximumIdleAndOutTogether) {
    const MessagePool::Ptr pool = make_pool(1, 3);
    int calls = 0;
    pool->set_refill_hook([&calls] { ++calls; });
    std::vector<MessagePtr> out;
    for (int i = 0; i < 3; ++i) {
        out.push_back(pool->get_for_read());  // the one made at start, then two new ones
        ASSERT_NE(out.back(), nullptr) << i;
        EXPECT_TRUE(pool->owns(*out.back()));
    }
    EXPECT_EQ(pool->get_for_read(), nullptr) << "three out: the maximum";
    out.pop_back();  // one back: the refill hook says so, and a read takes it
    EXPECT_EQ(calls, 1);
    MessagePtr again = pool->get_for_read();
    EXPECT_NE(again, nullptr);
    again.reset();
    out.clear();
    EXPECT_EQ(pool->idle(), 3U) << "never more than the maximum in all";
    pool->set_refill_hook(nullptr);
}

TEST(MessagePoolGetForRead, MessagesTheApplicationMadeCountTowardsTheMaximum) {
    const MessagePool::Ptr pool = make_pool(0, 2);
    MessagePtr made = pool->get(AllocationStrategy::always);
    MessagePtr grown = pool->get_for_read();
    ASSERT_NE(grown, nullptr);
    EXPECT_EQ(pool->get_for_read(), nullptr);
}

TEST(MessagePoolTakeBackAll, ReturnsABatchResetAndHonoursMax) {
    const MessagePool::Ptr pool = make_pool(0, 3);
    tofu::detail::MessageQueue batch;
    for (int i = 0; i < 5; ++i) {
        MessagePtr m = pool->get(AllocationStrategy::always);
        dirty(*m, static_cast<std::uint64_t>(i));
        EXPECT_TRUE(pool->owns(*m));
        batch.push_back(std::move(m));
    }
    EXPECT_EQ(pool->outstanding(), 5U);
    pool->take_back_all(batch);
    EXPECT_TRUE(batch.empty());
    EXPECT_EQ(pool->outstanding(), 0U);
    EXPECT_EQ(pool->idle(), 3U);  // two were surplus and freed
    for (int i = 0; i < 3; ++i) {
        const MessagePtr m = pool->get(AllocationStrategy::pool_only);
        ASSERT_NE(m, nullptr);
        EXPECT_TRUE(is_pristine(*m));
    }
}

TEST(MessagePoolTakeBackAll, CallsTheRefillHookOnceForAStarvedPool) {
    const MessagePool::Ptr pool = make_pool(2, 2);
    int calls = 0;
    pool->set_refill_hook([&calls] { ++calls; });
    tofu::detail::MessageQueue batch;
    batch.push_back(pool->get(AllocationStrategy::pool_only));
    batch.push_back(pool->get(AllocationStrategy::pool_only));
    EXPECT_EQ(pool->get(AllocationStrategy::pool_only), nullptr);  // starved
    pool->take_back_all(batch);
    EXPECT_EQ(calls, 1);
    pool->set_refill_hook(nullptr);
}

TEST(MessagePoolLifetime, TakeBackAllOfTheLastMessagesDeletesAClosedPool) {
    MessagePool::Ptr pool = make_pool(2, 2);
    tofu::detail::MessageQueue batch;
    batch.push_back(pool->get(AllocationStrategy::pool_only));
    batch.push_back(pool->get(AllocationStrategy::pool_only));
    MessagePool* raw = pool.get();
    pool.reset();               // closed, two messages still out
    raw->take_back_all(batch);  // the pool deletes itself: ASan reports a leak or double free
    EXPECT_TRUE(batch.empty());
}

}  // namespace

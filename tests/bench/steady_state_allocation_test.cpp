// No heap allocation per message in steady state: this binary counts every operator new of the
// process (every thread: the engine's, the sender's, the receiver's) while messages flow through a
// warmed-up engine, one way and in request/response, and checks the count stays far below the
// message count. Messages come from the pool (`wait_get`) and go back to it; bodies keep their
// capacity, so nothing needs the allocator once every pool message has a body of the right size.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <tofu/tofu.hpp>

#include "support/engine_helpers.hpp"

namespace {

std::atomic<std::uint64_t> allocations{0};

void* counted_alloc(std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    void* p = std::malloc(size == 0 ? 1 : size);  // NOLINT(cppcoreguidelines-no-malloc): operator new itself
    if (p == nullptr) {
        throw std::bad_alloc{};
    }
    return p;
}

void* counted_alloc_aligned(std::size_t size, std::align_val_t align) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    const auto a = static_cast<std::size_t>(align);
#if defined(_WIN32)
    void* p = ::_aligned_malloc(size == 0 ? 1 : size, a);  // the C runtime has no aligned_alloc
#else
    void* p = std::aligned_alloc(a, (size + a - 1) / a * a);  // NOLINT(cppcoreguidelines-no-malloc)
#endif
    if (p == nullptr) {
        throw std::bad_alloc{};
    }
    return p;
}

void free_aligned(void* p) noexcept {
#if defined(_WIN32)
    ::_aligned_free(p);
#else
    std::free(p);                                             // NOLINT(cppcoreguidelines-no-malloc)
#endif
}

}  // namespace

// The replaceable global allocation functions (all of them, so none escapes the count).
// NOLINTBEGIN(cppcoreguidelines-no-malloc,misc-new-delete-overloads)
void* operator new(std::size_t size) {
    return counted_alloc(size);
}
void* operator new[](std::size_t size) {
    return counted_alloc(size);
}
void* operator new(std::size_t size, std::align_val_t align) {
    return counted_alloc_aligned(size, align);
}
void* operator new[](std::size_t size, std::align_val_t align) {
    return counted_alloc_aligned(size, align);
}
void* operator new(std::size_t size, const std::nothrow_t& /*tag*/) noexcept {
    try {
        return counted_alloc(size);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t size, const std::nothrow_t& /*tag*/) noexcept {
    try {
        return counted_alloc(size);
    } catch (...) {
        return nullptr;
    }
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t /*size*/) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t /*size*/) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t /*align*/) noexcept {
    free_aligned(p);
}
void operator delete[](void* p, std::align_val_t /*align*/) noexcept {
    free_aligned(p);
}
void operator delete(void* p, std::size_t /*size*/, std::align_val_t /*align*/) noexcept {
    free_aligned(p);
}
void operator delete[](void* p, std::size_t /*size*/, std::align_val_t /*align*/) noexcept {
    free_aligned(p);
}
// NOLINTEND(cppcoreguidelines-no-malloc,misc-new-delete-overloads)

namespace tofu::test {
namespace {

constexpr std::uint32_t pool_size = 512;
constexpr std::size_t warmup = 20'000;    // every pool message has carried a body by then
constexpr std::size_t measured = 50'000;  // messages counted against the allocator
/// Round trips: one message cycles, so a short warm-up does; and they are slow under Wine, and
/// under a sanitizer (about 1.7 ms each with ASan on a busy CI machine), which counts 5,000.
constexpr std::size_t round_trip_warmup = 2'000;
const std::size_t round_trips = sanitizer_allocator() ? 5'000 : 20'000;
constexpr std::size_t body_size = 100;
/// "No allocation per message": at most one allocation per this many messages.
constexpr std::size_t messages_per_allowed_allocation = 100;
/// A receiver that lags empties the pool: the engine stops reading and reports `pool_empty`. When
/// messages then trickle back one at a time, each resume can run dry again, and each report needs
/// a message the pool does not have (the engine keeps one back, then allocates): at most the
/// report and, later, its body.
constexpr std::size_t allocations_per_pool_empty_report = 2;

class SteadyStateAllocation : public ::testing::TestWithParam<Transport> {
protected:
    void SetUp() override {
        if (const auto why = transport_unavailable(GetParam())) {
            GTEST_SKIP() << *why;
        }
        engine_ = Reactor::create(Options{.initial_pool_msgs = pool_size, .max_pool_msgs = pool_size});
        server_ = engine_->create();
        client_ = engine_->create();
        const Listener listener = start_listener(*engine_, *server_, GetParam());
        connection_ = establish(*engine_, *client_, *server_, listener.client_address);
        give_every_pool_message_a_body();
    }

    /// The pool hands out its most recently returned message first, so a light load cycles a
    /// few messages and a heavier one (a lagging receiver) reaches fresh ones whose bodies have
    /// never grown. Growing every body once up front keeps that first growth out of the count.
    void give_every_pool_message_a_body() {
        std::vector<MessagePtr> all;
        while (MessagePtr msg = engine_->get(AllocationStrategy::pool_only)) {
            msg->body.reserve(body_size);
            all.push_back(std::move(msg));
        }
        for (MessagePtr& msg : all) {
            engine_->put(std::move(msg));
        }
    }

    /// Posts `n` messages of `op` on the client channel, taking each from the pool with `wait_get`.
    void post_from_pool(std::size_t n, OpCode op) {
        const std::vector<std::byte> payload(body_size, std::byte{'x'});
        for (std::size_t i = 0; i < n; ++i) {
            MessagePtr msg = engine_->wait_get(event_timeout);
            ASSERT_NE(msg, nullptr) << "no message came back to the pool";
            msg->bhdr.proto.op_code = op;
            msg->bhdr.channel_number = connection_.client;
            msg->body.copy(payload);
            client_->post(msg);
        }
    }

    std::unique_ptr<Reactor> engine_;
    ChannelGroupPtr server_;
    ChannelGroupPtr client_;
    Connection connection_;
};

TEST_P(SteadyStateAllocation, OneWaySignals) {
    std::atomic<std::size_t> received{0};
    std::atomic<std::size_t> pool_empty_reports{0};
    std::atomic<std::uint64_t> at_end{0};
    std::thread receiver{[&] {
        while (received < warmup + measured) {
            const MessagePtr msg = server_->wait_receive(event_timeout);
            if (!msg) {
                return;  // the main thread's checks report it
            }
            if (msg->bhdr.proto.op_code == OpCode::signal && !msg->is_from_engine() &&
                msg->body.size() == body_size) {
                received.fetch_add(1);
            } else if (msg->is_from_engine() && msg->bhdr.status == AmpeStatus::pool_empty) {
                pool_empty_reports.fetch_add(1);
            }
        }
        at_end = allocations.load();
    }};
    post_from_pool(warmup, OpCode::signal);
    // Counting starts while the last warm-up messages may still be in flight: that only makes
    // the check stricter.
    const std::uint64_t at_start = allocations.load();
    post_from_pool(measured, OpCode::signal);
    receiver.join();

    ASSERT_EQ(received.load(), warmup + measured);
    const std::uint64_t used = at_end - at_start;

    const std::size_t reports = pool_empty_reports.load();
    std::cout << "allocations while " << measured << " signals flowed: " << used << " (" << reports
              << " pool_empty reports)\n";
    EXPECT_LE(used, measured / messages_per_allowed_allocation + allocations_per_pool_empty_report * reports);
}

TEST_P(SteadyStateAllocation, RequestResponse) {
    std::atomic<std::size_t> answered{0};
    std::thread server{[&] {
        while (answered < round_trip_warmup + round_trips) {
            MessagePtr msg = server_->wait_receive(event_timeout);
            if (!msg) {
                return;
            }
            if (msg->bhdr.proto.op_code == OpCode::request) {
                msg->bhdr.proto.op_code = OpCode::response;  // same id, same body
                server_->post(msg);
                answered.fetch_add(1);
            }
        }
    }};
    // One request in flight at a time; each response is sent again as the next request. Returns
    // what went wrong, or nothing.
    const auto exchange = [&](std::size_t n, MessagePtr& msg) -> std::string {
        for (std::size_t i = 0; i < n; ++i) {
            msg->bhdr.proto.op_code = OpCode::request;
            msg->bhdr.message_id = 0;
            client_->post(msg);
            msg = client_->wait_receive(event_timeout);  // no test helper here: they allocate
            if (!msg || msg->bhdr.proto.op_code != OpCode::response) {
                return "round trip " + std::to_string(i) + " of " + std::to_string(n) +
                       ": expected the response, got " + (msg ? describe(*msg) : "nothing");
            }
        }
        return {};
    };
    MessagePtr msg = engine_->wait_get(event_timeout);
    ASSERT_NE(msg, nullptr);
    msg->bhdr.channel_number = connection_.client;
    msg->body.copy(std::vector<std::byte>(body_size, std::byte{'y'}));
    std::string failure = exchange(round_trip_warmup, msg);
    const std::uint64_t at_start = allocations.load();
    if (failure.empty()) {
        failure = exchange(round_trips, msg);
    }
    const std::uint64_t used = allocations.load() - at_start;
    server.join();  // it stops once every request is answered, or after event_timeout of silence
    ASSERT_EQ(failure, "");

    ASSERT_EQ(answered.load(), round_trip_warmup + round_trips);
    EXPECT_EQ(msg->body.size(), body_size);
    std::cout << "allocations during " << round_trips << " round trips: " << used << '\n';
    EXPECT_LE(used, round_trips / messages_per_allowed_allocation);
}

INSTANTIATE_TEST_SUITE_P(Transports, SteadyStateAllocation, ::testing::ValuesIn(tcp4_and_uds_transports()),
                         transport_test_name);

}  // namespace
}  // namespace tofu::test

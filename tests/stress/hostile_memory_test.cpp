// Hostile peers pushing hundreds of MB at an echo server (label `stress`; issue 26): clients that
// never read their answers, clients that never confirm, and one that floods and reads. Whatever
// they push, the server engine's own count stays within `channel_budget` per connection and the
// pool within `max_pool_msgs`, in every build; and in a release build without a sanitizer (where
// the resident size follows live memory), the process's peak resident size stays within the
// documented bound: connections x channel_budget + the pool's messages at their largest, plus the
// fixed parts (threads, read buffers, this test's own).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iostream>
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

#include "support/engine_helpers.hpp"
#include "support/process_stats.hpp"

namespace tofu::test {
namespace {

using namespace std::chrono_literals;

/// Where the resident size means live memory: an optimised build without a sanitizer's allocator,
/// on Linux (Wine's counts are its own).
bool resident_size_is_meaningful() {
#if defined(NDEBUG) && !defined(_WIN32)
    return !sanitizer_allocator();
#else
    return false;
#endif
}

/// What the attackers push in all: hundreds of MB where it is fast, less under a sanitizer.
std::size_t volume() {
    return (resident_size_is_meaningful() ? std::size_t{320} : std::size_t{32}) << 20U;
}

/// Memory that is not the engine's budget: the engines' threads and read buffers, the allocator's
/// arenas, this test's buffers and threads.
constexpr std::size_t fixed_slack = std::size_t{24} << 20U;

constexpr std::size_t attackers = 8;
/// Rounds of attackers, at most (a Unix socket's buffers are small: a blocked round pushes less).
constexpr int max_rounds = 24;

std::vector<std::byte> request_frame(std::uint64_t id, std::size_t body_size) {
    BinaryHeader h;
    h.proto.op_code = OpCode::request;
    h.message_id = id;
    return encode_frame(h, {}, std::vector<std::byte>(body_size, std::byte{'x'}));
}

/// Samples the process's resident size until stopped; keeps the largest.
class PeakResident {
public:
    PeakResident() : sampler_{[this](const std::stop_token& stop) { sample(stop); }} {}

    [[nodiscard]] std::size_t peak() const noexcept { return peak_.load(); }

private:
    void sample(const std::stop_token& stop) {
        while (!stop.stop_requested()) {
            const std::size_t now = resident_bytes();
            std::size_t seen = peak_.load();
            while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
            }
            std::this_thread::sleep_for(5ms);  // a measurement interval, not a synchronization
        }
    }

    std::atomic<std::size_t> peak_{0};
    std::jthread sampler_;  // last: stops first
};

class HostileMemory : public ::testing::TestWithParam<Transport> {
protected:
    void SetUp() override {
        if (const auto why = transport_unavailable(GetParam())) {
            GTEST_SKIP() << *why;
        }
        if (!process_stats_available()) {
            GTEST_SKIP() << "this system gives no count of the process's memory";
        }
        options_.stall_timeout = 300ms;         // the never-confirming peers are let go within the test
        options_.max_unconfirmed_frames = 512;  // 8 MB of 16 kB answers: reached in every build
        server_engine_ = Reactor::create(options_);
        client_engine_ = Reactor::create(Options{});
        server_ = server_engine_->create();
        client_ = client_engine_->create();
        listener_ = start_listener(*server_engine_, *server_, GetParam());
        echo_ = std::jthread{[this] {
            try {
                (void)serve_echo(*server_, SIZE_MAX, 30min, &stop_);
            } catch (const TestFailure& e) {
                echo_failure_ = e.what();
            }
        }};
        good_ = connect_client(*client_engine_, *client_, listener_.client_address);
        resident_before_ = resident_bytes();
    }

    void TearDown() override {
        if (echo_.joinable()) {
            stop_ = true;
            server_->update_receiver();
            echo_.join();
            EXPECT_EQ(echo_failure_, "");
        }
    }

    /// The engine's own count within its budget, and the good client served.
    void check(std::string_view during) {
        const EngineMemory m = server_engine_->memory();
        EXPECT_LE(m.largest_channel, channel_budget(options_)) << during;
        EXPECT_LE(m.pool_idle + m.pool_out, std::size_t{options_.max_pool_msgs}) << during;
        MessagePtr request = make_message(*client_engine_, OpCode::request, good_, 0, "ping");
        const std::uint64_t id = client_->post(request).message_id;
        EXPECT_EQ(wait_for_op(*client_, OpCode::response, good_)->bhdr.message_id, id) << during;
    }

    /// The peak resident size within the documented bound for `connections`, where it means
    /// something.
    void expect_peak_within_bound(const PeakResident& peak, std::size_t connections, std::size_t pushed) {
        const std::size_t pool = std::size_t{options_.max_pool_msgs} * (sizeof(Message) + 2 * max_part_size);
        const std::size_t bound = connections * channel_budget(options_) + pool + fixed_slack;
        const std::size_t grown = peak.peak() - std::min(peak.peak(), resident_before_);
        RecordProperty("pushed_mib", std::to_string(pushed >> 20U));
        RecordProperty("peak_rss_growth_kib", std::to_string(grown >> 10U));
        RecordProperty("bound_kib", std::to_string(bound >> 10U));
        std::cout << "pushed " << (pushed >> 20U) << " MiB; peak RSS growth " << (grown >> 10U)
                  << " KiB (bound " << (bound >> 10U) << " KiB)\n";
        if (resident_size_is_meaningful()) {
            EXPECT_LE(grown, bound) << "after " << (pushed >> 20U) << " MiB pushed";
        }
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
    std::uint16_t good_ = 0;
    std::size_t resident_before_ = 0;
};

TEST_P(HostileMemory, ClientsThatNeverReadTheirAnswers) {
    const PeakResident peak;
    const std::vector<std::byte> frame = request_frame(2, 60000);
    std::size_t pushed = 0;
    for (int round = 0; round < max_rounds && pushed < volume(); ++round) {
        std::vector<std::unique_ptr<RawPeer>> deaf;
        std::vector<std::size_t> sent(attackers);
        std::vector<std::jthread> pushers;
        for (std::size_t i = 0; i < attackers; ++i) {
            deaf.push_back(std::make_unique<RawPeer>(listener_.client_address, 200ms));
            ASSERT_TRUE(deaf.back()->send(hello_frame(1, 1)));
        }
        for (std::size_t i = 0; i < attackers; ++i) {
            pushers.emplace_back([&sent, &frame, peer = deaf[i].get(), i] {
                sent[i] = peer->send_until_blocked(frame, volume());
            });
        }
        pushers.clear();  // joined: every one of them is blocked
        for (const std::size_t n : sent) {
            pushed += n;
        }
        check("with " + std::to_string(attackers) + " clients blocked");
        for (auto& peer : deaf) {
            peer->reset();
        }
    }
    check("after the clients left");
    expect_peak_within_bound(peak, attackers + 2, pushed);
}

TEST_P(HostileMemory, ClientsThatNeverConfirm) {
    const PeakResident peak;
    std::vector<std::byte> burst;
    for (std::uint64_t id = 2; id < 2 + 64; ++id) {
        const std::vector<std::byte> f = request_frame(id, 16000);
        burst.insert(burst.end(), f.begin(), f.end());
    }
    std::atomic<std::size_t> pushed{0};
    std::vector<std::string> failures(attackers);
    for (int round = 0; round < max_rounds && pushed < volume(); ++round) {
        std::vector<std::jthread> peers;
        for (std::size_t i = 0; i < attackers; ++i) {
            peers.emplace_back([&, i] {
                try {
                    // Requests as fast as they go, every answer read and none confirmed: once the
                    // window is full the server writes nothing more, then resets us when
                    // stall_timeout passes.
                    RawPeer mute{listener_.client_address, 20s};
                    if (!mute.send(hello_frame(1, 1, "~confirm:1\r\n"))) {
                        return;
                    }
                    std::jthread reader{[&mute] {
                        try {
                            while (mute.read_frame()) {
                            }
                        } catch (const TestFailure&) {
                            // the sender's failure (below) says what went wrong
                        }
                    }};
                    while (pushed < volume() && mute.send(burst)) {
                        pushed += burst.size();
                    }
                    mute.shutdown_write();  // the reader ends with the connection
                } catch (const TestFailure& e) {
                    failures[i] = e.what();
                }
            });
        }
        peers.clear();
        for (const std::string& failure : failures) {
            EXPECT_EQ(failure, "");
        }
        check("after " + std::to_string(attackers) + " peers that never confirmed");
    }
    expect_peak_within_bound(peak, attackers + 2, pushed);
}

TEST_P(HostileMemory, AClientThatFloodsAndReads) {
    const PeakResident peak;
    RawPeer flood{listener_.client_address};
    ASSERT_TRUE(flood.send(hello_frame(1, 1)));
    ASSERT_TRUE(flood.read_frame().has_value());
    const std::vector<std::byte> frame = request_frame(7, 60000);
    const std::size_t count = volume() / frame.size();
    std::jthread reader{[&flood, count] {
        for (std::size_t i = 0; i < count; ++i) {
            ASSERT_TRUE(flood.read_frame().has_value()) << "answer " << i;
        }
    }};
    for (std::size_t i = 0; i < count; ++i) {
        ASSERT_TRUE(flood.send(frame));
        if (i % 1000 == 0) {
            check("during a flood");
        }
    }
    reader.join();
    check("after a flood");
    expect_peak_within_bound(peak, 3, count * frame.size());
}

INSTANTIATE_TEST_SUITE_P(Transports, HostileMemory, ::testing::ValuesIn(tcp4_and_uds_transports()),
                         transport_test_name);

}  // namespace
}  // namespace tofu::test

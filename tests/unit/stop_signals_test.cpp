// tofu::StopSignals in this process: one at a time, a raised signal reaches the callback on the
// helper's thread, the previous handler is back after it, and stop_signal_of reads the wake-up.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <string>
#include <string_view>

#include <tofu/message.hpp>
#include <tofu/status.hpp>
#include <tofu/stop_signals.hpp>

namespace tofu {
namespace {

constexpr std::chrono::seconds generous{30};

void ignore(std::string_view /*signal_name*/) {}

TEST(StopSignalsTest, ASecondOneAliveAtOnceThrowsNotAllowed) {
    const StopSignals first{ignore};
    try {
        const StopSignals second{ignore};
        FAIL() << "a second StopSignals was made while the first one is alive";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), AmpeStatus::not_allowed);
        EXPECT_NE(std::string{e.what()}.find("another one is alive"), std::string::npos) << e.what();
    }
    EXPECT_EQ(first.received(), 0U);
}

TEST(StopSignalsTest, AnotherOneMayBeMadeOnceTheFirstIsGone) {
    { const StopSignals first{ignore}; }
    const StopSignals second{ignore};
    EXPECT_EQ(second.received(), 0U);
}

/// The signal names the callback was called with, waited for with a deadline.
class Arrivals {
public:
    void add(std::string_view name) {
        const std::lock_guard lock{mutex_};
        names_.append(name).append(";");
        arrived_.notify_all();
    }
    /// Everything that arrived, once it holds `expected` or the deadline passed.
    std::string wait_for(const std::string& expected) {
        std::unique_lock lock{mutex_};
        arrived_.wait_for(lock, generous, [&] { return names_.size() >= expected.size(); });
        return names_;
    }

private:
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::string names_;
};

#if !defined(_WIN32)

TEST(StopSignalsTest, RaisedSignalsReachTheCallbackAndThePreviousHandlerComesBack) {
    struct sigaction before_int {};
    struct sigaction before_term {};
    ASSERT_EQ(sigaction(SIGINT, nullptr, &before_int), 0);
    ASSERT_EQ(sigaction(SIGTERM, nullptr, &before_term), 0);
    Arrivals arrivals;
    {
        const StopSignals stop{[&arrivals](std::string_view name) { arrivals.add(name); }};
        ASSERT_EQ(std::raise(SIGINT), 0);
        EXPECT_EQ(arrivals.wait_for("SIGINT;"), "SIGINT;");
        ASSERT_EQ(std::raise(SIGTERM), 0);
        EXPECT_EQ(arrivals.wait_for("SIGINT;SIGTERM;"), "SIGINT;SIGTERM;");
        EXPECT_EQ(stop.received(), 2U);
    }
    struct sigaction after_int {};
    struct sigaction after_term {};
    ASSERT_EQ(sigaction(SIGINT, nullptr, &after_int), 0);
    ASSERT_EQ(sigaction(SIGTERM, nullptr, &after_term), 0);
    EXPECT_EQ(after_int.sa_handler, before_int.sa_handler);
    EXPECT_EQ(after_term.sa_handler, before_term.sa_handler);
}

#endif

TEST(StopSignalsTest, StopSignalOfReadsOnlyAStopWakeUp) {
    const MessagePtr msg = Message::create();
    msg->thdrs.append(header::signal, "SIGTERM");
    EXPECT_EQ(stop_signal_of(*msg), "");  // not a wake-up (status success)
    msg->bhdr.status = AmpeStatus::receiver_update;
    EXPECT_EQ(stop_signal_of(*msg), "SIGTERM");
    msg->thdrs.reset();
    EXPECT_EQ(stop_signal_of(*msg), "");  // a wake-up, but not from StopSignals
}

}  // namespace
}  // namespace tofu

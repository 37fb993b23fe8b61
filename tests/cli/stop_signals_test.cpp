// tofu::StopSignals in a real process: SIGINT and SIGTERM sent to a child that made its engine
// before the helper, the helper before its engine, or blocked the signals everywhere but in the
// helper's thread, wake its group with `~signal:<NAME>`, and the
// child exits 0 from its own receive loop.
#include <gtest/gtest.h>

#include <csignal>
#include <optional>
#include <string>

#include "cli/child_process.hpp"

namespace tofu::cli_test {
namespace {

struct SignalCase {
    const char* order;  ///< the child's argument: engine-first, helper-first or helper-only
    int signal_number;
    const char* signal_name;
};

std::string signal_case_name(const ::testing::TestParamInfo<SignalCase>& info) {
    std::string order{info.param.order};
    std::erase(order, '-');
    return order + "_" + info.param.signal_name;
}

class StopSignalsProcessTest : public ::testing::TestWithParam<SignalCase> {};

TEST_P(StopSignalsProcessTest, WakesTheGroupWithTheSignalsName) {
#if defined(_WIN32)
    GTEST_SKIP() << "Windows sends no SIGINT or SIGTERM to a console-less child";
#endif
    const SignalCase& c = GetParam();
    ChildProcess child{{TOFU_STOP_SIGNALS_CHILD_PATH, c.order}};
    ASSERT_EQ(child.read_line(Stream::out), std::optional<std::string>{"ready"})
        << child.everything(Stream::err);

    child.send_signal(c.signal_number);
    EXPECT_EQ(child.read_line(Stream::out),
              std::optional<std::string>{std::string{"woken by ~signal:"} + c.signal_name + ", 1 received"});
    EXPECT_EQ(child.wait_exit(), 0) << child.everything(Stream::err);
    EXPECT_EQ(child.everything(Stream::err), "");
}

INSTANTIATE_TEST_SUITE_P(Orders, StopSignalsProcessTest,
                         ::testing::Values(SignalCase{"engine-first", SIGINT, "SIGINT"},
                                           SignalCase{"engine-first", SIGTERM, "SIGTERM"},
                                           SignalCase{"helper-first", SIGINT, "SIGINT"},
                                           SignalCase{"helper-first", SIGTERM, "SIGTERM"},
                                           SignalCase{"helper-only", SIGINT, "SIGINT"},
                                           SignalCase{"helper-only", SIGTERM, "SIGTERM"}),
                         signal_case_name);

}  // namespace
}  // namespace tofu::cli_test

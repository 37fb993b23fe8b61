// SIGTERM and SIGINT stop `tofu echo` and `tofu listen` cleanly: exit code 0, nothing on stderr
// after the "listening on" line, and a UDS socket file removed.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <string>

#include <tofu/testing.hpp>

#include "cli/child_process.hpp"
#include "cli/tofu_process.hpp"

namespace tofu::cli_test {
namespace {

struct StopCase {
    const char* command;
    int signal_number;
};

std::string stop_case_name(const ::testing::TestParamInfo<StopCase>& info) {
    return std::string{info.param.command} + (info.param.signal_number == SIGTERM ? "_sigterm" : "_sigint");
}

class StopSignalTest : public ::testing::TestWithParam<StopCase> {};

#if defined(_WIN32)
#define TOFU_SKIP_WITHOUT_STOP_SIGNALS() \
    GTEST_SKIP() << "Windows sends no SIGINT or SIGTERM to a console-less child"
#else
#define TOFU_SKIP_WITHOUT_STOP_SIGNALS() static_cast<void>(0)
#endif

TEST_P(StopSignalTest, ExitsZeroAndRemovesItsSocketFile) {
    TOFU_SKIP_WITHOUT_STOP_SIGNALS();
    if (!tofu::testing::uds_supported()) {
        GTEST_SKIP() << "this system cannot make Unix domain sockets (AF_UNIX; Wine has none)";
    }
    const std::string url = listen_url(Transport::uds_path);
    const std::filesystem::path socket_file = url.substr(std::string{"uds://"}.size());
    RunningServer server = start_server({GetParam().command, url});
    EXPECT_TRUE(std::filesystem::exists(socket_file));

    server.process->send_signal(GetParam().signal_number);
    EXPECT_EQ(server.process->wait_exit(), 0) << server.process->everything(Stream::err);
    EXPECT_EQ(server.process->unread(Stream::err), "");
    EXPECT_FALSE(std::filesystem::exists(socket_file));
}

TEST_P(StopSignalTest, ExitsZeroAfterServingAClient) {
    TOFU_SKIP_WITHOUT_STOP_SIGNALS();
    RunningServer server = start_server({GetParam().command, listen_url(Transport::tcp4)});
    ASSERT_EQ(run_tofu({"send", server.url, "--request", "--data", "x"}).exit_code, 0);
    server.process->send_signal(GetParam().signal_number);
    EXPECT_EQ(server.process->wait_exit(), 0) << server.process->everything(Stream::err);
}

INSTANTIATE_TEST_SUITE_P(Servers, StopSignalTest,
                         ::testing::Values(StopCase{"echo", SIGTERM}, StopCase{"echo", SIGINT},
                                           StopCase{"listen", SIGTERM}, StopCase{"listen", SIGINT}),
                         stop_case_name);

}  // namespace
}  // namespace tofu::cli_test

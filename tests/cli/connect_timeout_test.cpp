// `tofu send` to a server that accepts and never answers ends: the engine's connect timeout
// (Options::connect_timeout, 10 s) returns the HelloRequest, and the tool exits 1 with
// connect_failed and tofu's words (docs/cli.md, "Exit codes").
#include <gtest/gtest.h>

#include <string>
#include <variant>

#include <tofu/address.hpp>

#include "cli/tofu_process.hpp"
#include "support/engine_helpers.hpp"

namespace tofu::cli_test {
namespace {

TEST(CliFailure, SendToAServerThatNeverAnswersEndsWithConnectFailed) {
    const test::RawListener silent;  // the kernel completes the connect; nobody reads or answers
    const std::string url =
        "tcp://127.0.0.1:" + std::to_string(std::get<TcpClientAddress>(silent.client_address()).port);
    const TofuRun run = run_tofu({"send", url, "--data", "x"});
    EXPECT_EQ(run.exit_code, 1) << run.err;
    EXPECT_EQ(run.err, "tofu: connect_failed: " + url + " (no HelloResponse within 10000 ms)\n");
}

}  // namespace
}  // namespace tofu::cli_test

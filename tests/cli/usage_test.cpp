// Exit codes and one-line errors: --version and --help exit 0, a wrong command line exits 2
// (invalid_address, bad options, a bad header, an unreadable file), and a failure tofu reports
// exits 1 naming the status and the OS's words (connect_failed, uds_path_not_found).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <tofu/testing.hpp>
#include <tofu/version.hpp>

#include "cli/tofu_process.hpp"

namespace tofu::cli_test {
namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST(CliUsage, VersionPrintsTheVersion) {
    const TofuRun run = run_tofu({"--version"});
    EXPECT_EQ(run.exit_code, 0);
    EXPECT_EQ(run.out, std::string{"tofu "} + version_string + "\n");
}

TEST(CliUsage, HelpOfEverySubcommandExitsZeroAndListsExitCodes) {
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"--help"}, {"listen", "--help"}, {"send", "--help"}, {"echo", "--help"}, {"demo", "--help"}}) {
        const TofuRun run = run_tofu(args);
        EXPECT_EQ(run.exit_code, 0) << args[0];
        EXPECT_TRUE(contains(run.out, "Exit codes: 0 success, 1 failure reported by tofu")) << run.out;
    }
}

TEST(CliUsage, MissingOrUnknownSubcommandIsAUsageError) {
    EXPECT_EQ(run_tofu({}).exit_code, 2);
    EXPECT_EQ(run_tofu({"frobnicate"}).exit_code, 2);
    EXPECT_EQ(run_tofu({"listen"}).exit_code, 2);  // the address is required
    EXPECT_EQ(run_tofu({"send", "tcp://127.0.0.1:1", "--bogus"}).exit_code, 2);
    EXPECT_EQ(run_tofu({"send", "tcp://127.0.0.1:1", "--request", "--signal"}).exit_code, 2);
    EXPECT_EQ(run_tofu({"send", "tcp://127.0.0.1:1", "--data", "a", "--file", "/etc/hostname"}).exit_code, 2);
    EXPECT_EQ(run_tofu({"listen", "tcp://127.0.0.1:0", "--count", "0"}).exit_code, 2);
}

TEST(CliUsage, ParserErrorsAreOneLineStartingWithTofu) {
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{},
                                               {"frobnicate"},
                                               {"listen"},
                                               {"send", "tcp://127.0.0.1:1", "--bogus"},
                                               {"send", "tcp://127.0.0.1:1", "--request", "--signal"},
                                               {"listen", "tcp://127.0.0.1:0", "--count", "0"},
                                               {"listen", "tcp://127.0.0.1:0", "--max-body", "-1"}}) {
        const TofuRun run = run_tofu(args);
        EXPECT_EQ(run.exit_code, 2) << run.err;
        EXPECT_TRUE(run.err.starts_with("tofu: ")) << run.err;
        EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << "not one line: " << run.err;
        EXPECT_EQ(run.out, "");
    }
}

TEST(CliUsage, UsageLineNamesTheProgramTofu) {
    const TofuRun top = run_tofu({"--help"});
    EXPECT_TRUE(contains(top.out, "Usage: tofu [OPTIONS] SUBCOMMAND\n")) << top.out;
    const TofuRun listen = run_tofu({"listen", "--help"});
    EXPECT_TRUE(contains(listen.out, "Usage: tofu listen [OPTIONS] address")) << listen.out;
    EXPECT_FALSE(contains(top.out + listen.out, tofu_path()));
}

TEST(CliUsage, UnresolvableHostExitsTwoWithInvalidAddress) {
    const TofuRun run = run_tofu({"send", "tcp://no-such-host.invalid:7", "--data", "x"});
    if (run.err.starts_with("tofu: connect_failed: ")) {
        // The resolver could not answer now (EAI_AGAIN: no DNS here): a temporary failure.
        EXPECT_EQ(run.exit_code, 1) << run.err;
        GTEST_SKIP() << "the resolver gave a temporary failure: " << run.err;
    }
    EXPECT_EQ(run.exit_code, 2) << run.err;
    EXPECT_TRUE(run.err.starts_with("tofu: invalid_address: tcp://no-such-host.invalid:7")) << run.err;
    EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << "not one line: " << run.err;
}

TEST(CliUsage, BadAddressExitsTwoWithInvalidAddress) {
    const TofuRun send = run_tofu({"send", "tcp://host", "--data", "x"});
    EXPECT_EQ(send.exit_code, 2);
    EXPECT_EQ(send.err, "tofu: invalid_address: tcp://host (missing :PORT)\n");

    for (const char* command : {"listen", "echo"}) {
        const TofuRun run = run_tofu({command, "ftp://example.org:21"});
        EXPECT_EQ(run.exit_code, 2) << command;
        EXPECT_TRUE(run.err.starts_with("tofu: invalid_address: ftp://example.org:21 (")) << run.err;
    }
    const TofuRun client_port_zero = run_tofu({"send", "tcp://127.0.0.1:0", "--data", "x"});
    EXPECT_EQ(client_port_zero.exit_code, 2);
    EXPECT_TRUE(contains(client_port_zero.err, "port 0")) << client_port_zero.err;
}

TEST(CliUsage, BadHeaderExitsTwo) {
    const TofuRun no_colon = run_tofu({"send", "tcp://127.0.0.1:1", "--header", "NoColon", "--data", "x"});
    EXPECT_EQ(no_colon.exit_code, 2);
    EXPECT_EQ(no_colon.err, "tofu: invalid_message: --header NoColon (expected NAME:VALUE)\n");
    const TofuRun reserved = run_tofu({"send", "tcp://127.0.0.1:1", "--header", "~reason:x", "--data", "x"});
    EXPECT_EQ(reserved.exit_code, 2);
    EXPECT_TRUE(contains(reserved.err, "reserved")) << reserved.err;
    const TofuRun empty_name = run_tofu({"send", "tcp://127.0.0.1:1", "--header", ":value", "--data", "x"});
    EXPECT_EQ(empty_name.exit_code, 2);
}

TEST(CliUsage, UnreadableFileExitsTwo) {
    const std::string missing = testing::temp_uds_path("tofu-cli-missing");
    const TofuRun run = run_tofu({"send", "tcp://127.0.0.1:1", "--file", missing});
    EXPECT_EQ(run.exit_code, 2);
    EXPECT_EQ(run.err, "tofu: cannot read: " + missing + " (No such file or directory)\n");
}

TEST(CliFailure, SendWithoutListenerExitsOneWithConnectFailed) {
    const std::string url = "tcp://127.0.0.1:" + std::to_string(testing::find_free_tcp_port());
    const TofuRun run = run_tofu({"send", url, "--data", "x"});
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_EQ(run.err, "tofu: connect_failed: " + url + " (Connection refused)\n");
}

TEST(CliFailure, SendToMissingSocketFileExitsOne) {
    if (!testing::uds_supported()) {
        GTEST_SKIP() << "this system cannot make Unix domain sockets (AF_UNIX; Wine has none)";
    }
    const std::string url = "uds://" + testing::temp_uds_path("tofu-cli-nobody");
    const TofuRun run = run_tofu({"send", url, "--request", "--data", "x"});
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_TRUE(run.err.starts_with("tofu: uds_path_not_found: " + url)) << run.err;
}

}  // namespace
}  // namespace tofu::cli_test

// `tofu echo tls://...` with `tofu send tls://...` and with an independent TLS peer (Python's ssl
// module speaking tofu's frames): round trips, a CA that does not match, a listener without its
// certificate, certificate flags given with a plain address; on a build without TLS, the clean
// not_implemented_yet.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/child_process.hpp"
#include "cli/tofu_process.hpp"
#if defined(TOFU_TEST_TLS)
#include "support/tls_pki.hpp"
#endif

namespace tofu::cli_test {
namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

#if defined(TOFU_TEST_TLS)

RunningServer start_tls_echo() {
    const test::TlsPki& pki = test::test_pki();
    return start_server(
        {"echo", "tls://127.0.0.1:0", "--tls-cert", pki.server.cert, "--tls-key", pki.server.key});
}

TEST(CliTls, EchoRoundTrip) {
    RunningServer echo = start_tls_echo();
    ASSERT_TRUE(echo.url.starts_with("tls://127.0.0.1:")) << echo.url;
    const TofuRun send = run_tofu({"send", echo.url, "--tls-ca", test::test_pki().ca, "--request", "--header",
                                   "Job:print", "--data", "secret"});
    ASSERT_EQ(send.exit_code, 0) << send.err;
    const std::vector<std::string> out = lines_of(send.out);
    ASSERT_EQ(out.size(), 1U) << send.out;
    const std::optional<TextLine> response = parse_text_line(out[0]);
    ASSERT_TRUE(response) << out[0];
    EXPECT_EQ(response->op, "Response");
    EXPECT_EQ(response->headers, "Job=\"print\"");
    EXPECT_EQ(response->body, "secret");
}

TEST(CliTls, ListenPrintsThePeerIdentity) {
    const test::TlsPki& pki = test::test_pki();
    // With --tls-ca the listener requires a client certificate and names it in the HelloRequest.
    RunningServer listen = start_server({"listen", "tls://127.0.0.1:0", "--count", "1", "--tls-cert",
                                         pki.server.cert, "--tls-key", pki.server.key, "--tls-ca", pki.ca});
    const TofuRun send = run_tofu({"send", listen.url, "--tls-ca", pki.ca, "--tls-cert", pki.client.cert,
                                   "--tls-key", pki.client.key, "--data", "hi"});
    ASSERT_EQ(send.exit_code, 0) << send.err;
    ASSERT_EQ(listen.process->wait_exit(), 0) << listen.process->everything(Stream::err);
    const std::string& printed = listen.process->everything(Stream::out);
    EXPECT_TRUE(contains(printed, "tofu test client")) << printed;
}

TEST(CliTls, SendWithAnotherCaFailsVerification) {
    RunningServer echo = start_tls_echo();
    const TofuRun send =
        run_tofu({"send", echo.url, "--tls-ca", test::test_pki().other_ca, "--request", "--data", "x"});
    EXPECT_EQ(send.exit_code, 1) << send.err;
    EXPECT_TRUE(contains(send.err, "connect_failed")) << send.err;
    EXPECT_TRUE(contains(send.err, "certificate verify failed")) << send.err;
    EXPECT_TRUE(send.out.empty()) << send.out;
}

TEST(CliTls, ListenerWithoutCertificateIsAUsageError) {
    for (const std::string command : {"echo", "listen"}) {
        const TofuRun run =
            run_tofu({command, "tls://127.0.0.1:0", "--tls-cert", test::test_pki().server.cert});
        EXPECT_EQ(run.exit_code, 2) << command << ": " << run.err;
        EXPECT_TRUE(contains(run.err, "--tls-cert FILE and --tls-key FILE")) << command << ": " << run.err;
    }
}

TEST(CliTls, MissingCertificateFileFailsTheListener) {
    const TofuRun run = run_tofu({"echo", "tls://127.0.0.1:0", "--tls-cert", "/nonexistent/tofu-cert.pem",
                                  "--tls-key", "/nonexistent/tofu-key.pem"});
    EXPECT_EQ(run.exit_code, 1) << run.err;
    EXPECT_TRUE(contains(run.err, "listen_failed")) << run.err;
    EXPECT_TRUE(contains(run.err, "/nonexistent/tofu-cert.pem")) << run.err;
}

#if defined(TOFU_PYTHON3_PATH)
TEST(CliTls, PythonSslClientSpeaksTofuFrames) {
    RunningServer echo = start_tls_echo();
    const std::string port = echo.url.substr(echo.url.rfind(':') + 1);
    ChildProcess python{{TOFU_PYTHON3_PATH, TOFU_TLS_PYTHON_CLIENT, "127.0.0.1", port, test::test_pki().ca}};
    python.feed_stdin_and_close({});
    EXPECT_EQ(python.wait_exit(), 0) << python.everything(Stream::err);
    EXPECT_TRUE(contains(python.everything(Stream::out), "passed")) << python.everything(Stream::out);
}
#endif

#else  // a build without TLS

TEST(CliTls, TlsAddressIsNotImplemented) {
    const TofuRun run = run_tofu({"echo", "tls://127.0.0.1:0", "--tls-cert", "c.pem", "--tls-key", "k.pem"});
    EXPECT_EQ(run.exit_code, 1) << run.err;
    EXPECT_TRUE(contains(run.err, "not_implemented_yet")) << run.err;
}

#endif

TEST(CliTls, TlsFlagsWithAPlainAddressAreAUsageError) {
    // They would do nothing: a user who meant tls:// must not get clear text without a word.
    const std::vector<std::vector<std::string> > commands{
        {"echo", "tcp://127.0.0.1:0", "--tls-cert", "c.pem", "--tls-key", "k.pem"},
        {"listen", "tcp://127.0.0.1:0", "--tls-ca", "ca.pem"},
        {"send", "tcp://127.0.0.1:1", "--tls-ca", "ca.pem", "--data", "hi"},
    };
    for (const std::vector<std::string>& command : commands) {
        const TofuRun run = run_tofu(command);
        EXPECT_EQ(run.exit_code, 2) << command[0] << ": " << run.err;
        EXPECT_TRUE(contains(run.err, "for tls:// addresses only")) << command[0] << ": " << run.err;
    }
}

}  // namespace
}  // namespace tofu::cli_test

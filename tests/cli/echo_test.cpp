// `tofu echo` with `tofu send` as processes: a Request comes back as a Response with the same body
// and headers, a streamed Request comes back part by part, a Signal comes back as a Signal, and
// several clients at once each get their own data.
#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/child_process.hpp"
#include "cli/tofu_process.hpp"

namespace tofu::cli_test {
namespace {

class EchoTest : public ::testing::TestWithParam<Transport> {};

TEST_P(EchoTest, RequestComesBackAsResponse) {
    RunningServer echo = start_server({"echo", listen_url(GetParam())});
    const TofuRun send = run_tofu({"send", echo.url, "--request", "--header", "Job:print", "--data", "ping"});
    ASSERT_EQ(send.exit_code, 0) << send.err;
    const std::vector<std::string> out = lines_of(send.out);
    ASSERT_EQ(out.size(), 1U) << send.out;
    const std::optional<TextLine> response = parse_text_line(out[0]);
    ASSERT_TRUE(response) << out[0];
    EXPECT_EQ(response->op, "Response");
    EXPECT_EQ(response->origin, "application");
    EXPECT_EQ(response->headers, "Job=\"print\"");
    EXPECT_EQ(response->body, "ping");
    EXPECT_FALSE(response->more);
}

INSTANTIATE_TEST_SUITE_P(Transports, EchoTest, ::testing::ValuesIn(available_transports()),
                         transport_test_name);

TEST(CliEcho, StreamedRequestComesBackInParts) {
    const std::string data = binary_pattern(std::size_t{200} * 1024, 2);
    const TempFile file{data};
    RunningServer echo = start_server({"echo", listen_url(Transport::tcp4)});
    const TofuRun send = run_tofu({"send", echo.url, "--request", "--json", "--file", file.path()});
    ASSERT_EQ(send.exit_code, 0) << send.err;

    const std::vector<std::string> out = lines_of(send.out);
    ASSERT_EQ(out.size(), 4U);
    std::string reassembled;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const auto json = nlohmann::json::parse(out[i]);
        EXPECT_EQ(json.at("op"), "Response");
        EXPECT_EQ(json.at("more"), i + 1 < out.size()) << "part " << i;
        EXPECT_EQ(json.at("message_id"), nlohmann::json::parse(out[0]).at("message_id"));
        EXPECT_EQ(json.at("body_encoding"), "hex");
        const std::optional<std::string> bytes = hex_decode(json.at("body").get<std::string>());
        ASSERT_TRUE(bytes);
        EXPECT_EQ(json.at("body_size"), bytes->size());
        reassembled += *bytes;
    }
    EXPECT_TRUE(reassembled == data) << "the echoed parts do not put the file back together";
}

TEST(CliEcho, SignalComesBackAsSignal) {
    RunningServer echo = start_server({"echo", listen_url(uds_or_tcp4())});
    const TofuRun send = run_tofu({"send", echo.url, "--signal", "--data", "tick"});
    ASSERT_EQ(send.exit_code, 0) << send.err;
    const std::optional<TextLine> signal = parse_text_line(send.out.substr(0, send.out.find('\n')));
    ASSERT_TRUE(signal) << send.out;
    EXPECT_EQ(signal->op, "Signal");
    EXPECT_EQ(signal->body, "tick");
}

TEST(CliEcho, ServesSeveralClientsAtOnce) {
    RunningServer echo = start_server({"echo", listen_url(Transport::tcp4)});
    std::vector<std::unique_ptr<ChildProcess>> clients;
    for (int i = 0; i < 4; ++i) {
        clients.push_back(
            start_tofu({"send", echo.url, "--request", "--data", "client " + std::to_string(i)}));
        clients.back()->feed_stdin_and_close({});
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
        ASSERT_EQ(clients[i]->wait_exit(), 0) << clients[i]->everything(Stream::err);
        const std::optional<TextLine> response =
            parse_text_line(lines_of(clients[i]->everything(Stream::out)).at(0));
        ASSERT_TRUE(response);
        EXPECT_EQ(response->body, "client " + std::to_string(i));
    }
    EXPECT_TRUE(echo.process->running());
}

}  // namespace
}  // namespace tofu::cli_test

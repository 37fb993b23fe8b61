// `tofu listen` and `tofu send` as processes: a Signal over every transport, a Request with text
// headers, a 200 KiB file streamed in 65535-byte parts and put back together from listen's output,
// data from stdin, --json output, --count ending the listener by itself (after every part of a
// streamed message), and --max-body cutting long bodies short.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/child_process.hpp"
#include "cli/tofu_process.hpp"

namespace tofu::cli_test {
namespace {

/// Reads listen's stdout until a line with op code `op` from a peer, returning it parsed; fails the
/// test (throws) when the stream ends or times out first.
TextLine next_from_peer(ChildProcess& listen, std::string_view op) {
    for (;;) {
        const std::optional<std::string> line = listen.read_line(Stream::out);
        if (!line) {
            throw std::runtime_error{"listen's output ended before a " + std::string{op}};
        }
        std::optional<TextLine> parsed = parse_text_line(*line);
        if (!parsed) {
            throw std::runtime_error{"listen printed a line of unknown shape: " + *line};
        }
        if (parsed->op == op && parsed->origin == "application") {
            return *parsed;
        }
    }
}

class ListenSendTest : public ::testing::TestWithParam<Transport> {};

TEST_P(ListenSendTest, SignalArrivesAndCountEndsTheListener) {
    RunningServer listen = start_server({"listen", listen_url(GetParam()), "--count", "1"});
    const TofuRun send = run_tofu({"send", listen.url, "--data", "hello, tofu"});
    EXPECT_EQ(send.exit_code, 0) << send.err;
    EXPECT_EQ(send.out, "");  // a Signal has no answer

    const TextLine hello = next_from_peer(*listen.process, "HelloRequest");
    const TextLine signal = next_from_peer(*listen.process, "Signal");
    EXPECT_EQ(signal.channel, hello.channel);
    EXPECT_FALSE(signal.more);
    EXPECT_EQ(signal.body_size, 11U);
    EXPECT_EQ(signal.body, "hello, tofu");
    EXPECT_EQ(listen.process->wait_exit(), 0) << listen.process->everything(Stream::err);
}

INSTANTIATE_TEST_SUITE_P(Transports, ListenSendTest, ::testing::ValuesIn(available_transports()),
                         transport_test_name);

TEST(CliListenSend, RequestWithHeadersIsPrintedAndAnswered) {
    RunningServer listen = start_server({"listen", listen_url(Transport::tcp4)});
    const TofuRun send = run_tofu({"send", listen.url, "--request", "--header", "Job:print", "--header",
                                   " Trace : a b ", "--data", "x\"y"});
    ASSERT_EQ(send.exit_code, 0) << send.err;

    const TextLine request = next_from_peer(*listen.process, "Request");
    EXPECT_EQ(request.headers, "Job=\"print\" Trace=\"a b\"");
    EXPECT_EQ(request.body, "x\"y");
    EXPECT_FALSE(request.more);

    // listen answers a complete Request with an empty Response of the same id; send prints it.
    const std::vector<std::string> out = lines_of(send.out);
    ASSERT_EQ(out.size(), 1U) << send.out;
    const std::optional<TextLine> response = parse_text_line(out[0]);
    ASSERT_TRUE(response) << out[0];
    EXPECT_EQ(response->op, "Response");
    EXPECT_EQ(response->id, request.id);
    EXPECT_EQ(response->body_size, 0U);
    EXPECT_FALSE(response->more);

    EXPECT_EQ(next_from_peer(*listen.process, "ByeRequest").channel, request.channel);
}

TEST(CliListenSend, FileIsStreamedInPartsAndReassemblesAndCountsOnce) {
    const std::string data = binary_pattern(std::size_t{200} * 1024, 1);
    const TempFile file{data};
    // --count 1: the four parts are one message, every one of them printed whole (--max-body 0).
    RunningServer listen =
        start_server({"listen", listen_url(uds_or_tcp4()), "--count", "1", "--max-body", "0"});
    // listen prints about 400 KiB of hex, more than a pipe holds: read it while send runs.
    const std::unique_ptr<ChildProcess> send = start_tofu({"send", listen.url, "--file", file.path()});
    send->feed_stdin_and_close({});

    // 204800 bytes = 3 full parts of 65535 and one of 8195, all with one message id.
    const std::vector<std::size_t> expected_sizes{65535, 65535, 65535, 8195};
    std::string reassembled;
    std::optional<std::uint64_t> id;
    for (std::size_t i = 0; i < expected_sizes.size(); ++i) {
        const TextLine part = next_from_peer(*listen.process, "Signal");
        EXPECT_EQ(part.body_size, expected_sizes[i]) << "part " << i;
        EXPECT_EQ(part.body.size(), expected_sizes[i]) << "part " << i;
        EXPECT_EQ(part.more, i + 1 < expected_sizes.size()) << "part " << i;
        EXPECT_FALSE(part.truncated) << "part " << i;
        if (!id) {
            id = part.id;
        }
        EXPECT_EQ(part.id, *id) << "part " << i;
        reassembled += part.body;
    }
    EXPECT_TRUE(reassembled == data) << "the parts do not put the file back together";
    EXPECT_EQ(send->wait_exit(), 0) << send->everything(Stream::err);
    EXPECT_EQ(listen.process->wait_exit(), 0);
}

TEST(CliListenSend, DataComesFromStdinWithoutDataOrFile) {
    RunningServer listen = start_server({"listen", listen_url(Transport::tcp4), "--count", "1"});
    const std::string data = "from stdin\nsecond line\n";
    const TofuRun send = run_tofu({"send", listen.url}, data);
    ASSERT_EQ(send.exit_code, 0) << send.err;
    EXPECT_EQ(next_from_peer(*listen.process, "Signal").body, data);
    EXPECT_EQ(listen.process->wait_exit(), 0);
}

TEST(CliListenSend, EmptyDataIsOneEmptySignal) {
    RunningServer listen = start_server({"listen", listen_url(Transport::tcp4), "--count", "1"});
    const TofuRun send = run_tofu({"send", listen.url, "--data", ""});
    ASSERT_EQ(send.exit_code, 0) << send.err;
    const TextLine signal = next_from_peer(*listen.process, "Signal");
    EXPECT_EQ(signal.body_size, 0U);
    EXPECT_FALSE(signal.more);
    EXPECT_EQ(listen.process->wait_exit(), 0);
}

TEST(CliListenSend, JsonLinesParseAndHaveTheFields) {
    RunningServer listen = start_server({"listen", listen_url(Transport::tcp4), "--json", "--count", "2"});
    ASSERT_EQ(run_tofu({"send", listen.url, "--header", "Job:print", "--data", "text body"}).exit_code, 0);
    ASSERT_EQ(run_tofu({"send", listen.url, "--request"}, std::string{"\x00\x01\xFF", 3}).exit_code, 0);
    ASSERT_EQ(listen.process->wait_exit(), 0);

    std::vector<nlohmann::json> data;
    for (const std::string& line : lines_of(listen.process->everything(Stream::out))) {
        nlohmann::json json;
        ASSERT_NO_THROW(json = nlohmann::json::parse(line)) << line;
        for (const char* field : {"op", "op_code", "channel", "message_id", "more", "origin", "status",
                                  "headers", "body_size", "body_encoding", "body"}) {
            EXPECT_TRUE(json.contains(field)) << field << " missing in " << line;
        }
        if (json.value("origin", "") == "application" && json.value("op_code", 99) <= 2) {
            data.push_back(json);
        }
    }
    ASSERT_EQ(data.size(), 2U);
    EXPECT_EQ(data[0].at("op"), "Signal");
    EXPECT_EQ(data[0].at("headers"), nlohmann::json::parse(R"([{"name":"Job","value":"print"}])"));
    EXPECT_EQ(data[0].at("body_encoding"), "text");
    EXPECT_EQ(data[0].at("body"), "text body");
    EXPECT_EQ(data[0].at("more"), false);
    EXPECT_EQ(data[1].at("op"), "Request");
    EXPECT_EQ(data[1].at("body_encoding"), "hex");
    EXPECT_EQ(data[1].at("body"), "0001ff");
    EXPECT_EQ(data[1].at("body_size"), 3);
}

TEST(CliListenSend, CountWaitsForTheNthDataMessage) {
    RunningServer listen = start_server({"listen", listen_url(Transport::tcp4), "--count", "2"});
    ASSERT_EQ(run_tofu({"send", listen.url, "--data", "one"}).exit_code, 0);
    EXPECT_EQ(next_from_peer(*listen.process, "Signal").body, "one");
    EXPECT_TRUE(listen.process->running()) << "listen --count 2 stopped after one message";
    ASSERT_EQ(run_tofu({"send", listen.url, "--data", "two"}).exit_code, 0);
    EXPECT_EQ(next_from_peer(*listen.process, "Signal").body, "two");
    EXPECT_EQ(listen.process->wait_exit(), 0);
}

TEST(CliListenSend, CountOneStopsAfterTheLastPartOfAStreamNotTheFirst) {
    RunningServer listen = start_server({"listen", listen_url(Transport::tcp4), "--count", "1"});
    // 65536 bytes: a full part with `more`, then a part of one byte.
    const TempFile file{std::string(std::size_t{65536}, 'a')};
    const TofuRun send = run_tofu({"send", listen.url, "--file", file.path()});
    ASSERT_EQ(send.exit_code, 0) << send.err;
    EXPECT_TRUE(next_from_peer(*listen.process, "Signal").more);
    const TextLine last = next_from_peer(*listen.process, "Signal");
    EXPECT_FALSE(last.more);
    EXPECT_EQ(last.body, "a");
    EXPECT_EQ(listen.process->wait_exit(), 0);
}

TEST(CliListenSend, MaxBodyCutsLongBodiesShort) {
    const std::string binary = binary_pattern(65535, 3);
    const TempFile file{binary};
    for (const auto& [args, shown_bytes] :
         std::vector<std::pair<std::vector<std::string>, std::size_t>>{{{}, 256},
                                                                       {{"--max-body", "10"}, 10},
                                                                       {{"--max-body", "0"}, 65535},
                                                                       {{"--max-body", "70000"}, 65535}}) {
        std::vector<std::string> listen_args{"listen", listen_url(Transport::tcp4), "--count", "1"};
        listen_args.insert(listen_args.end(), args.begin(), args.end());
        RunningServer listen = start_server(listen_args);
        // A whole body prints as 131 KB of hex, more than a pipe holds: read it while send runs.
        const std::unique_ptr<ChildProcess> send = start_tofu({"send", listen.url, "--file", file.path()});
        send->feed_stdin_and_close({});
        const TextLine line = next_from_peer(*listen.process, "Signal");
        EXPECT_EQ(send->wait_exit(), 0) << send->everything(Stream::err);
        EXPECT_EQ(line.body_size, 65535U);  // always the whole size
        EXPECT_EQ(line.body, binary.substr(0, shown_bytes)) << "shown_bytes " << shown_bytes;
        EXPECT_EQ(line.truncated, shown_bytes < binary.size()) << "shown_bytes " << shown_bytes;
        EXPECT_EQ(listen.process->wait_exit(), 0);
    }
}

TEST(CliListenSend, SendCutsTheAnswersItPrintsToMaxBody) {
    RunningServer echo = start_server({"echo", listen_url(Transport::tcp4)});
    const TofuRun send = run_tofu({"send", echo.url, "--request", "--max-body", "4", "--data", "long text"});
    ASSERT_EQ(send.exit_code, 0) << send.err;
    const std::optional<TextLine> response = parse_text_line(send.out.substr(0, send.out.find('\n')));
    ASSERT_TRUE(response) << send.out;
    EXPECT_EQ(response->body, "long");
    EXPECT_TRUE(response->truncated);
    EXPECT_TRUE(send.out.find("body[9]=\"long\"...\n") != std::string::npos) << send.out;
}

TEST(CliListenSend, ListenerOnAnAddressInUseFails) {
    RunningServer first = start_server({"listen", listen_url(Transport::tcp4)});
    const TofuRun second = run_tofu({"listen", first.url});
    EXPECT_EQ(second.exit_code, 1);
    EXPECT_NE(second.err.find("tofu: listen_failed: " + first.url), std::string::npos) << second.err;
}

}  // namespace
}  // namespace tofu::cli_test

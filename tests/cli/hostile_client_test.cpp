// `tofu echo` and `tofu listen` are servers people expose: whatever one client sends, they keep
// serving the others. Each attack here once stopped them (issue 26): a frame with message id 0
// (the server's answer was refused and the server exited), text headers at the 65,535-byte
// limit (the engine thread threw and every channel died), and a proto byte with its reserved
// bit set. After each, the server must still be running and answer a fresh `tofu send`.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <tofu/address.hpp>
#include <tofu/message.hpp>

#include "cli/tofu_process.hpp"
#include "support/engine_helpers.hpp"
#include "url.hpp"

namespace tofu::cli_test {
namespace {

namespace t = tofu::test;

/// One attack: what a raw client sends after connecting.
struct Attack {
    std::string name;
    std::function<void(t::RawPeer&)> send;
    bool closes = true;  ///< a protocol violation: the server closes that connection
};

std::vector<std::byte> bare_frame(OpCode op, std::uint64_t id, std::string_view headers = {}) {
    BinaryHeader h;
    h.proto.op_code = op;
    h.message_id = id;
    return t::encode_frame(h, headers, {});
}

/// Says Hello (id 1) and reads the server's HelloResponse.
void say_hello(t::RawPeer& peer) {
    ASSERT_TRUE(peer.send(t::hello_frame(1, 1)));
    ASSERT_TRUE(peer.read_frame().has_value()) << "no HelloResponse";
}

std::vector<Attack> attacks() {
    return {
        {"hello_with_id_0", [](t::RawPeer& p) { (void)p.send(bare_frame(OpCode::hello_request, 0)); }},
        {"request_with_id_0",
         [](t::RawPeer& p) {
             say_hello(p);
             (void)p.send(bare_frame(OpCode::request, 0));
         }},
        {"signal_with_id_0",
         [](t::RawPeer& p) {
             say_hello(p);
             (void)p.send(bare_frame(OpCode::signal, 0));
         }},
        {"bye_request_with_id_0",
         [](t::RawPeer& p) {
             say_hello(p);
             (void)p.send(bare_frame(OpCode::bye_request, 0));
         }},
        {"hello_with_headers_at_the_limit",
         [](t::RawPeer& p) {
             std::string headers;
             while (headers.size() + 1000 <= max_part_size - 5) {
                 headers += "k" + std::to_string(headers.size()) + ":" + std::string(990, 'v') + "\r\n";
             }
             headers += "x:" + std::string(max_part_size - 5 - headers.size() - 4, 'v') + "\r\n";
             (void)p.send(bare_frame(OpCode::hello_request, 1, headers));
         }},
        {"bare_line_feeds_and_a_reserved_header_at_the_limit",
         [](t::RawPeer& p) {
             say_hello(p);
             std::string headers = "~:\n";
             while (headers.size() + 3 <= max_part_size) {
                 headers += "a:\n";
             }
             (void)p.send(bare_frame(OpCode::signal, 5, headers));
         },
         false},  // not a violation: the Signal arrives without its bad lines
        {"reserved_proto_bit",
         [](t::RawPeer& p) {
             say_hello(p);
             std::vector<std::byte> frame = bare_frame(OpCode::request, 7);
             frame[2] |= std::byte{0x80};
             (void)p.send(frame);
         }},
    };
}

/// `tofu listen` prints what it receives, and a child's pipe is served only while the test waits
/// on it: reads its lines up to the attacker's `channel_closed` (the Signal of the header attack
/// alone is a 65 KB line, more than the pipe holds). The clients before it closed gracefully.
void read_until_closed(RunningServer& listen) {
    for (;;) {
        const std::optional<std::string> line = listen.process->read_line(Stream::out);
        ASSERT_TRUE(line.has_value()) << "listen ended its output";
        if (line->find("status=channel_closed") != std::string::npos &&
            line->find("~reason=\"success\"") == std::string::npos) {
            return;
        }
    }
}

/// A fresh client gets its answer from `server`, which is still running.
void expect_serving(RunningServer& server, const std::string& after) {
    ASSERT_TRUE(server.process->running())
        << "the server stopped after " << after << ": " << server.process->everything(Stream::err);
    const TofuRun send = run_tofu({"send", server.url, "--request", "--data", "ping"});
    EXPECT_EQ(send.exit_code, 0) << "after " << after << ": " << send.err;
    EXPECT_NE(send.out.find("Response"), std::string::npos) << "after " << after << ": " << send.out;
}

std::vector<Transport> tcp_and_uds() {
    std::vector<Transport> out{Transport::tcp4};
    if (uds_or_tcp4() == Transport::uds_path) {
        out.push_back(Transport::uds_path);
    }
    return out;
}

class CliHostileClient : public ::testing::TestWithParam<Transport> {};

TEST_P(CliHostileClient, EchoAndListenKeepServingWhateverOneClientSends) {
    for (const char* command : {"echo", "listen"}) {
        RunningServer server = start_server({command, listen_url(GetParam())});
        const Address address = cli::address_from_url(server.url, AddressRole::client);
        for (const Attack& attack : attacks()) {
            SCOPED_TRACE(std::string{command} + ": " + attack.name);
            {
                t::RawPeer peer{address};
                attack.send(peer);
                if (attack.closes) {
                    (void)peer.wait_closed();
                }
            }
            if (std::string_view{command} == "listen") {
                read_until_closed(server);
            }
            expect_serving(server, attack.name);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Transports, CliHostileClient, ::testing::ValuesIn(tcp_and_uds()),
                         transport_test_name);

}  // namespace
}  // namespace tofu::cli_test

// A peer process killed with SIGKILL in the middle of a stream: `tofu echo` children serve an
// in-test client engine, which streams 32 MB of Requests at one of them, frozen (SIGSTOP) so the
// stream stalls with full socket buffers, and kills it. The survivor must report the channel closed
// (`peer_disconnected`), give back every Request it had not written (never one that was answered), and keep
// serving its other channel.
#include <gtest/gtest.h>

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "cli/tofu_process.hpp"
#include "support/engine_helpers.hpp"
#include "url.hpp"

namespace tofu::cli_test {
namespace {

namespace t = tofu::test;

class PeerKilledTest : public ::testing::TestWithParam<Transport> {};

TEST_P(PeerKilledTest, SurvivorReportsReturnsUnsentAndKeepsServing) {
#if defined(_WIN32)
    GTEST_SKIP() << "Windows cannot freeze a process with a signal (SIGSTOP), which this test needs";
#else
    RunningServer victim = start_server({"echo", listen_url(GetParam())});
    RunningServer other = start_server({"echo", listen_url(GetParam())});
    auto engine = Reactor::create(Options{});
    ChannelGroupPtr group = engine->create();
    const std::uint16_t doomed =
        t::connect_client(*engine, *group, cli::address_from_url(victim.url, AddressRole::client));
    const std::uint16_t spared =
        t::connect_client(*engine, *group, cli::address_from_url(other.url, AddressRole::client));

    // The victim freezes first, so the socket buffers fill and the rest of the stream is certainly
    // still queued when it dies (a running echo can drain the whole stream before a kill lands).
    victim.process->send_signal(SIGSTOP);
    constexpr std::uint64_t count = 2000;
    constexpr std::size_t size = std::size_t{16} * 1024;
    for (std::uint64_t id = 1; id <= count; ++id) {
        MessagePtr m = t::make_message(*engine, OpCode::request, doomed, id);
        m->body.copy(t::pattern_bytes(size, id));
        (void)group->post(m);
    }
    victim.process->send_signal(SIGKILL);
    // Its close, and back comes the tail of the stream: what was not written yet (before the
    // report) and what had not even reached the engine (after it). A frozen peer answers nothing.
    std::vector<MessagePtr> messages;
    MessagePtr closed = t::wait_channel_closed(*group, doomed, &messages);
    for (MessagePtr& m : t::until_posted_processed(*engine, *group)) {
        messages.push_back(std::move(m));
    }
    std::uint64_t answered = 0;
    std::uint64_t returned = 0;
    std::uint64_t first_returned = 0;
    for (const MessagePtr& m : messages) {
        if (m->bhdr.channel_number != doomed) {
            continue;
        }
        if (m->bhdr.proto.op_code == OpCode::response && !m->is_from_engine()) {
            ++answered;
        } else if (m->bhdr.proto.op_code == OpCode::request && m->is_from_engine()) {
            EXPECT_NE(m->bhdr.status, AmpeStatus::success) << t::describe(*m);
            if (first_returned == 0) {
                first_returned = m->bhdr.message_id;
            }
            EXPECT_EQ(m->bhdr.message_id, first_returned + returned) << "returned out of order";
            ++returned;
        }
    }
    EXPECT_EQ(t::reason_of(*closed), status_name(AmpeStatus::peer_disconnected)) << t::describe(*closed);
    EXPECT_GT(returned, 0U) << "every one of " << count << " Requests was written before the peer died";
    EXPECT_GT(first_returned, answered) << "an answered Request came back as unsent";
    EXPECT_LE(answered + returned, count);
    EXPECT_EQ(first_returned + returned - 1, count) << "the returned Requests are not the tail";

    // The survivor goes on: its other channel still answers.
    MessagePtr ping = t::make_message(*engine, OpCode::request, spared, 0, "still here");
    const std::uint64_t id = group->post(ping).message_id;
    MessagePtr pong = t::wait_for_op(*group, OpCode::response, spared);
    EXPECT_EQ(pong->bhdr.message_id, id);
    EXPECT_EQ(pong->body.text(), "still here");
#endif
}

INSTANTIATE_TEST_SUITE_P(Transports, PeerKilledTest, ::testing::Values(Transport::tcp4, Transport::uds_path),
                         transport_test_name);

}  // namespace
}  // namespace tofu::cli_test

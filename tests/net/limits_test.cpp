// The engine's limits (Options): the handshake timeout, the channel limit, running out of file
// descriptors, the UDS socket file's mode, and the `~peer` header the engine writes on every
// HelloRequest it delivers (reserved headers from the wire are dropped). Each attack is made by a
// raw-socket peer; each test checks that only the attacked connection suffers, that the engine
// keeps serving the others, and that it recovers when the pressure is gone.
#include <gtest/gtest.h>

#if !defined(_WIN32)
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>
#endif
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "support/engine_helpers.hpp"

namespace tofu::test {
namespace {

using namespace std::chrono_literals;

/// A server engine with `options`, a listener on `transport`, and a client engine.
struct Pair {
    explicit Pair(Transport transport, const Options& server_options = Options{})
        : server_engine{Reactor::create(server_options)},
          client_engine{Reactor::create(Options{})},
          server{server_engine->create()},
          client{client_engine->create()},
          listener{start_listener(*server_engine, *server, transport)} {}

    std::unique_ptr<Reactor> server_engine;
    std::unique_ptr<Reactor> client_engine;
    ChannelGroupPtr server;
    ChannelGroupPtr client;
    Listener listener;
};

bool is_accept_failed(const Message& m, std::uint16_t listener) {
    return is_engine_signal(m, AmpeStatus::accept_failed, listener);
}

class LimitsTest : public ::testing::TestWithParam<Transport> {
protected:
    void SetUp() override {
        if (const auto why = transport_unavailable(GetParam())) {
            GTEST_SKIP() << *why;
        }
    }
};

// --- handshake timeout ---------------------------------------------------------------------------

TEST_P(LimitsTest, SilentConnectionIsClosedAfterTheHandshakeTimeout) {
    Options options;
    options.handshake_timeout = 200ms;
    Pair p{GetParam(), options};
    const Connection good = establish(*p.client_engine, *p.client, *p.server, p.listener.client_address);

    RawPeer silent{p.listener.client_address};  // connects, then never says a word
    std::vector<MessagePtr> before;
    MessagePtr closed = wait_for(
        *p.server,
        [&](const Message& m) { return is_any_channel_closed(m) && m.bhdr.channel_number != good.server; },
        "channel_closed of the silent connection", &before);
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::not_allowed)) << describe(*closed);
    EXPECT_NE(header_value(*closed, header::detail).find("no HelloRequest within 200 ms"), std::string::npos)
        << describe(*closed);
    EXPECT_EQ(count_channel_closed(before, good.server), 0U);
    EXPECT_NO_THROW((void)silent.wait_closed()) << "the engine did not close the silent connection";

    // The connection that did say hello in time is still served.
    round_trip(*p.client_engine, *p.client, *p.server, good, "after the silent connection was closed");
}

TEST_P(LimitsTest, HelloDrippingSlowerThanTheTimeoutIsCut) {
    Options options;
    options.handshake_timeout = 300ms;
    Pair p{GetParam(), options};
    const Connection good = establish(*p.client_engine, *p.client, *p.server, p.listener.client_address);

    // A slowloris: one byte of a Hello every 50 ms (the attack's own pace, not a synchronization),
    // until the server hangs up or the Hello is out.
    RawPeer dripping{p.listener.client_address};
    const std::vector<std::byte> hello = hello_frame(1, 5);
    bool cut = false;
    for (std::size_t i = 0; i < hello.size() && !cut; ++i) {
        cut = !dripping.send(std::span<const std::byte>{hello}.subspan(i, 1));
        std::this_thread::sleep_for(50ms);
    }
    MessagePtr closed = wait_for(
        *p.server,
        [&](const Message& m) { return is_any_channel_closed(m) && m.bhdr.channel_number != good.server; },
        "channel_closed of the dripping connection");
    EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::not_allowed)) << describe(*closed);
    EXPECT_NO_THROW((void)dripping.wait_closed());
    round_trip(*p.client_engine, *p.client, *p.server, good, "after the slowloris was cut");
    expect_idle_second();
}

TEST_P(LimitsTest, TrickledHelloWithinTheTimeoutIsAccepted) {
    Pair p{GetParam()};  // the default timeout: seconds, far more than a trickled Hello needs
    RawPeer slow{p.listener.client_address};
    ASSERT_TRUE(slow.send_byte_by_byte(hello_frame(1, 42, "x-slow:yes\r\n")));
    MessagePtr hello = wait_hello_request(*p.server);
    EXPECT_EQ(header_value(*hello, "x-slow"), "yes");
    const std::uint16_t channel = accept_hello(*p.server, std::move(hello));
    const std::optional<RawFrame> response = slow.read_frame();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->header.proto.op_code, OpCode::hello_response);
    EXPECT_EQ(response->header.channel_number, channel);
}

// --- the channel limit ---------------------------------------------------------------------------

TEST_P(LimitsTest, PastTheChannelLimitAcceptsAndConnectsFailAndOthersKeepWorking) {
    Options options;
    options.max_channels = 2;  // the listener and one connection
    Pair p{GetParam(), options};
    const Connection first = establish(*p.client_engine, *p.client, *p.server, p.listener.client_address);

    // A second client: the server accepts the connection, finds no channel for it and resets it.
    MessagePtr hello = hello_message(*p.client_engine, p.listener.client_address);
    const std::uint16_t refused = p.client->post(hello).channel_number;
    MessagePtr client_closed = wait_channel_closed(*p.client, refused);
    EXPECT_NE(reason_of(*client_closed), status_name(AmpeStatus::success)) << describe(*client_closed);

    std::vector<MessagePtr> before;
    MessagePtr report = wait_for(
        *p.server, [&](const Message& m) { return is_accept_failed(m, p.listener.channel); },
        "accept_failed on the listener", &before);
    EXPECT_NE(header_value(*report, header::detail).find("limit of 2 open channels"), std::string::npos)
        << describe(*report);
    for (const MessagePtr& m : before) {
        EXPECT_NE(m->bhdr.proto.op_code, OpCode::hello_request) << "the refused client got through";
    }

    // Posting one more listener or client on the full engine fails at once, with the reason.
    MessagePtr welcome = p.server_engine->get(AllocationStrategy::always);
    format(*welcome, server_address(GetParam()));
    try {
        (void)p.server->post(welcome);
        ADD_FAILURE() << "a WelcomeRequest past the limit was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), AmpeStatus::allocation_failed);
        EXPECT_NE(std::string{e.what()}.find("limit of 2 open channels"), std::string::npos) << e.what();
    }

    // The connection within the limit is unaffected; once it closes, a new client gets in.
    round_trip(*p.client_engine, *p.client, *p.server, first, "the connection within the limit");
    // Closed from the server side: its number is free before the server hears `channel_closed`
    // (a responder keeps its number while it drains).
    close_gracefully(*p.server_engine, *p.server, first.server, *p.client, first.client);
    const Connection next = establish(*p.client_engine, *p.client, *p.server, p.listener.client_address);
    round_trip(*p.client_engine, *p.client, *p.server, next, "a client after a channel freed");
}

TEST(LimitsOptions, OutOfRangeOptionsAreRefusedWithTheReason) {
    const auto refused = [](const Options& options, const std::string& words) {
        try {
            (void)Reactor::create(options);
            ADD_FAILURE() << "options with " << words << " were accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), AmpeStatus::not_allowed);
            EXPECT_NE(std::string{e.what()}.find(words), std::string::npos) << e.what();
        }
    };
    Options o;
    o.max_channels = 0;
    refused(o, "max_channels");
    o.max_channels = max_channel + 1U;
    refused(o, "max_channels");
    o = Options{};
    o.handshake_timeout = -1ms;
    refused(o, "handshake_timeout");
    o = Options{};
    o.dead_peer_timeout = -1ms;
    refused(o, "dead_peer_timeout");
    o = Options{};
    o.stall_timeout = -1ms;
    refused(o, "stall_timeout");
    o = Options{};
    o.uds_file_mode = 01777;
    refused(o, "uds_file_mode");
    using Spin = std::chrono::microseconds Options::*;
    for (const auto& [spin, name] : {std::pair<Spin, const char*>{&Options::idle_spin, "idle_spin"},
                                     std::pair<Spin, const char*>{&Options::receive_spin, "receive_spin"}}) {
        for (const std::chrono::microseconds out_of_range : {-1us, std::chrono::microseconds{11ms}}) {
            o = Options{};
            o.*spin = out_of_range;
            refused(o, name);
        }
    }
    o = Options{};
    o.max_unconfirmed_frames = 63;
    refused(o, "max_unconfirmed_frames");
}

// --- who is calling ------------------------------------------------------------------------------

TEST_P(LimitsTest, HelloCarriesThePeerAsTheEngineSawItAndNoReservedHeaderFromTheWire) {
    Pair p{GetParam()};
    RawPeer liar{p.listener.client_address};
    ASSERT_TRUE(liar.send(hello_frame(1, 7, "~peer:tcp|6.6.6.6|666\r\n~reason:success\r\nx-kept:1\r\n")));
    MessagePtr hello = wait_hello_request(*p.server);

    std::vector<std::string> peers;
    for (const TextHeader h : hello->thdrs) {
        EXPECT_TRUE(h.name != header::reason && h.name != header::connect_to)
            << "a reserved header from the wire reached the app: " << hello->thdrs.text();
        if (h.name == header::peer) {
            peers.emplace_back(h.value);
        }
    }
    EXPECT_EQ(header_value(*hello, "x-kept"), "1");
    ASSERT_EQ(peers.size(), 1U) << hello->thdrs.text();
    const std::string& peer = peers.front();
    switch (GetParam()) {
        case Transport::tcp4:
        case Transport::tls4: EXPECT_TRUE(peer.starts_with("tcp|127.0.0.1|")) << peer; break;
        case Transport::tcp6: EXPECT_TRUE(peer.starts_with("tcp|::1|")) << peer; break;
        case Transport::uds_path:
        case Transport::uds_abstract:
#if defined(_WIN32)
            EXPECT_EQ(peer, "uds");  // Windows does not say who is at the other end
#else
            EXPECT_EQ(peer, "uds|uid=" + std::to_string(::getuid()) + "|gid=" + std::to_string(::getgid()) +
                                "|pid=" + std::to_string(::getpid()));
#endif
            break;
    }
    if (peer.starts_with("tcp|")) {
        // The port part is the raw peer's own port: a number, not the one it claimed.
        const std::string port = peer.substr(peer.rfind('|') + 1);
        EXPECT_FALSE(port.empty());
        EXPECT_EQ(port.find_first_not_of("0123456789"), std::string::npos) << peer;
        EXPECT_NE(port, "666");
    }

    // Reserved headers on later frames are dropped too.
    const std::uint16_t channel = accept_hello(*p.server, std::move(hello));
    ASSERT_TRUE(liar.read_frame().has_value());
    BinaryHeader h;
    h.proto.op_code = OpCode::signal;
    h.channel_number = 1;
    h.message_id = 8;
    ASSERT_TRUE(liar.send(encode_frame(h, "~reason:channel_closed\r\nx-kept:2\r\n", {})));
    MessagePtr signal = wait_for_op(*p.server, OpCode::signal, channel);
    EXPECT_EQ(signal->thdrs.text(), "x-kept:2\r\n");
}

INSTANTIATE_TEST_SUITE_P(Transports, LimitsTest, ::testing::ValuesIn(all_transports()), transport_test_name);

// --- the UDS socket file -------------------------------------------------------------------------

#if !defined(_WIN32)
unsigned file_mode(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        throw TestFailure{"cannot stat " + path};
    }
    return st.st_mode & 0777U;
}
#endif

TEST(LimitsUdsFile, ListenerSocketFileIsOwnerOnlyByDefaultAndConfigurable) {
#if defined(_WIN32)
    GTEST_SKIP() << "POSIX file modes: Windows guards a socket file with the directory's ACL";
#else
    if (const auto why = transport_unavailable(Transport::uds_path)) {
        GTEST_SKIP() << *why;
    }
    for (const std::uint32_t mode : {0U, 0600U, 0660U}) {
        Options options;
        if (mode != 0) {
            options.uds_file_mode = mode;
        }
        auto engine = Reactor::create(options);
        ChannelGroupPtr group = engine->create();
        const std::string path = temp_socket_path();
        const Listener listener = start_listener(*engine, *group, UdsServerAddress{path});
        EXPECT_EQ(file_mode(path), mode == 0 ? 0600U : mode) << path;
        // Its owner still connects.
        ChannelGroupPtr client = engine->create();
        const Connection c = establish(*engine, *client, *group, listener.client_address);
        round_trip(*engine, *client, *group, c, "owner connects through the socket file");
    }
#endif
}

TEST(LimitsUdsFile, AnOldListenerClosingLeavesANewListenersFileInPlace) {
    if (const auto why = transport_unavailable(Transport::uds_path)) {
        GTEST_SKIP() << *why;
    }
    const std::string path = temp_socket_path();
    auto old_engine = Reactor::create(Options{});
    ChannelGroupPtr old_group = old_engine->create();
    const Listener old_listener = start_listener(*old_engine, *old_group, UdsServerAddress{path});
    ASSERT_TRUE(std::filesystem::remove(path));  // someone removed it, and...

    auto new_engine = Reactor::create(Options{});
    ChannelGroupPtr new_group = new_engine->create();
    const Listener new_listener = start_listener(*new_engine, *new_group, UdsServerAddress{path});

    old_group.reset();  // ...then the old listener closes
    old_engine.reset();
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::symlink_status(path))) << path;

    ChannelGroupPtr client = new_engine->create();
    const Connection c = establish(*new_engine, *client, *new_group, new_listener.client_address);
    round_trip(*new_engine, *client, *new_group, c, "the newer listener is still reachable");

    // Its own file does go when it closes.
    client.reset();
    new_group.reset();
    new_engine.reset();
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(path))) << path;
}

// --- out of file descriptors ---------------------------------------------------------------------

#if !defined(_WIN32)
/// Lowers this process's descriptor limit and takes every free descriptor but `spare`, so the
/// next ones fail with EMFILE. Everything is given back on destruction. (CTest runs each test in a
/// process of its own.)
class DescriptorSqueeze {
public:
    explicit DescriptorSqueeze(std::size_t spare) {
        ::getrlimit(RLIMIT_NOFILE, &saved_);
        rlimit low = saved_;
        low.rlim_cur = std::min<rlim_t>(saved_.rlim_cur, open_descriptor_count() + 64);
        ::setrlimit(RLIMIT_NOFILE, &low);
        for (int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC); fd >= 0;
             fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) {
            held_.push_back(fd);
        }
        if (errno != EMFILE) {
            throw TestFailure{"expected EMFILE while taking descriptors"};
        }
        release(spare);
    }
    DescriptorSqueeze(const DescriptorSqueeze&) = delete;
    DescriptorSqueeze& operator=(const DescriptorSqueeze&) = delete;
    DescriptorSqueeze(DescriptorSqueeze&&) = delete;
    DescriptorSqueeze& operator=(DescriptorSqueeze&&) = delete;
    ~DescriptorSqueeze() {
        release(held_.size());
        ::setrlimit(RLIMIT_NOFILE, &saved_);
    }

    /// Gives `n` descriptors back.
    void release(std::size_t n) {
        for (; n > 0 && !held_.empty(); --n) {
            ::close(held_.back());
            held_.pop_back();
        }
    }

private:
    rlimit saved_{};
    std::vector<int> held_;
};
#endif

TEST(LimitsDescriptors, OutOfDescriptorsReportsOnceDoesNotSpinAndRecovers) {
#if defined(_WIN32)
    GTEST_SKIP()
        << "POSIX descriptor limits (RLIMIT_NOFILE): Windows has no per-process socket limit to lower";
#else
    Pair p{Transport::tcp4};
    const Connection good = establish(*p.client_engine, *p.client, *p.server, p.listener.client_address);
    std::optional<RawPeer> waiting;
    // UBSan's vptr check opens a pipe the first time it meets a polymorphic type (describe's
    // std::ostringstream): let it meet it while descriptors are still free.
    (void)describe(*Message::create());
    std::optional<Listener> squeezed;
    {
        // The listener starts inside the squeeze: io_uring takes the descriptor limit in force when
        // an accept is submitted, as a process already at its limit would have it.
        DescriptorSqueeze squeeze{2};
        squeezed.emplace(start_listener(*p.server_engine, *p.server, Transport::tcp4));
        waiting.emplace(squeezed->client_address);  // takes the last descriptor: none left to accept it
        ASSERT_TRUE(waiting->send(hello_frame(1, 99, "x-waited:yes\r\n")));

        MessagePtr report = wait_for(
            *p.server, [&](const Message& m) { return is_accept_failed(m, squeezed->channel); },
            "accept_failed on the listener");
        EXPECT_NE(header_value(*report, header::detail).find("Too many open files"), std::string::npos)
            << describe(*report);

        // A connect now fails with the reason, and the engine goes on.
        MessagePtr hello = hello_message(*p.client_engine, p.listener.client_address);
        const std::uint16_t failed = p.client->post(hello).channel_number;
        MessagePtr closed = wait_channel_closed(*p.client, failed);
        EXPECT_EQ(reason_of(*closed), status_name(AmpeStatus::connect_failed)) << describe(*closed);
        EXPECT_NE(header_value(*closed, header::detail).find("Too many open files"), std::string::npos);

        // The listener rests between attempts instead of spinning on the pending connection.
        expect_idle_second();
        for (const MessagePtr& m : drain(*p.server)) {
            EXPECT_FALSE(is_accept_failed(*m, squeezed->channel)) << "reported more than once";
        }
        round_trip(*p.client_engine, *p.client, *p.server, good,
                   "an established channel while out of descriptors");
    }
    // Descriptors are back: the waiting connection is accepted and its Hello delivered.
    MessagePtr hello = wait_hello_request(*p.server);
    EXPECT_EQ(header_value(*hello, "x-waited"), "yes");
    const std::uint16_t channel = accept_hello(*p.server, std::move(hello));
    const std::optional<RawFrame> response = waiting->read_frame();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->header.channel_number, channel);
#endif
}

}  // namespace
}  // namespace tofu::test

// Two hosts: network namespaces joined by a veth pair, made by the test (as root, with iproute2) and
// removed afterwards. The server engine lives in one, the client engine in the other (an engine's
// thread, and so every socket it makes, belongs to the namespace of the thread that created it).
// Taking the link down in the middle of a stream sends no FIN and no reset: only
// `Options::dead_peer_timeout` (keepalive, TCP_USER_TIMEOUT) notices, and both sides must report
// the channel closed with `peer_disconnected`. Skipped, saying why, where namespaces are not
// permitted.
#include <gtest/gtest.h>

#if defined(__linux__)
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>
#endif

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
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

#if defined(__linux__)
bool run(const std::string& command) {
    // NOLINTNEXTLINE(cert-env33-c,concurrency-mt-unsafe): test setup; no other thread calls std::system
    return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

/// Two namespaces, "a" (10.77.0.1) and "b" (10.77.0.2), joined by a veth pair. Each pair of
/// namespaces is its own network, so the fixed addresses never clash between tests.
class TwoHosts {
public:
    TwoHosts() {
        static std::atomic<int> counter{0};
        const std::string tag = std::to_string(::getpid()) + "-" + std::to_string(counter++);
        a_ = "tofu-a-" + tag;
        b_ = "tofu-b-" + tag;
        ok_ = run("ip netns add " + a_) && run("ip netns add " + b_) &&
              run("ip link add va netns " + a_ + " type veth peer name vb netns " + b_) &&
              run("ip -n " + a_ + " addr add 10.77.0.1/24 dev va") &&
              run("ip -n " + b_ + " addr add 10.77.0.2/24 dev vb") &&
              run("ip -n " + a_ + " link set va up") && run("ip -n " + b_ + " link set vb up") &&
              run("ip -n " + a_ + " link set lo up") && run("ip -n " + b_ + " link set lo up");
    }
    TwoHosts(const TwoHosts&) = delete;
    TwoHosts& operator=(const TwoHosts&) = delete;
    TwoHosts(TwoHosts&&) = delete;
    TwoHosts& operator=(TwoHosts&&) = delete;
    ~TwoHosts() {
        (void)run("ip netns del " + a_);  // takes the veth pair with it
        (void)run("ip netns del " + b_);
    }

    [[nodiscard]] bool ok() const noexcept { return ok_; }
    [[nodiscard]] const std::string& a() const noexcept { return a_; }
    [[nodiscard]] const std::string& b() const noexcept { return b_; }
    void cut_link() const {
        if (!run("ip -n " + b_ + " link set vb down")) {
            throw TestFailure{"cannot take the link down"};
        }
    }

private:
    std::string a_;
    std::string b_;
    bool ok_ = false;
};

/// The calling thread in namespace `name` for this object's lifetime.
class InNamespace {
public:
    explicit InNamespace(const std::string& name)
        : home_{::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)},
          there_{::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC)} {
        if (home_ < 0 || there_ < 0 || ::setns(there_, CLONE_NEWNET) != 0) {
            throw TestFailure{"cannot enter network namespace " + name};
        }
    }
    InNamespace(const InNamespace&) = delete;
    InNamespace& operator=(const InNamespace&) = delete;
    InNamespace(InNamespace&&) = delete;
    InNamespace& operator=(InNamespace&&) = delete;
    ~InNamespace() {
        (void)::setns(home_, CLONE_NEWNET);
        ::close(home_);
        ::close(there_);
    }

private:
    int home_;
    int there_;
};

/// An engine whose thread, and so every socket, lives in namespace `name`.
std::unique_ptr<Reactor> engine_in(const std::string& name, const Options& options) {
    const InNamespace inside{name};
    return Reactor::create(options);
}

#endif

TEST(MultiHost, LinkDownMidStreamIsDetectedByTheDeadPeerTimeoutOnBothSides) {
#if !defined(__linux__)
    GTEST_SKIP() << "network namespaces exist on Linux only";
#else
    if (::geteuid() != 0) {
        GTEST_SKIP() << "network namespaces need root";
    }
    const TwoHosts hosts;
    if (!hosts.ok()) {
        GTEST_SKIP() << "cannot create network namespaces and a veth pair here (ip netns add failed)";
    }
    // The server reads nothing until the cut, so its window shuts and the rest of the stream stays
    // with the client, to come back. Linux gives up a peer whose window stays shut longer than
    // TCP_USER_TIMEOUT as well: the timeout must outlast posting the stream and taking the link down.
    Options options;
    options.dead_peer_timeout = 6s;
    auto server_engine = engine_in(hosts.a(), options);
    auto client_engine = engine_in(hosts.b(), options);
    ChannelGroupPtr server = server_engine->create();
    ChannelGroupPtr client = client_engine->create();

    const Listener listener = start_listener(*server_engine, *server, TcpServerAddress{"10.77.0.1", 0});
    const Connection c = establish(*client_engine, *client, *server, listener.client_address);
    round_trip(*client_engine, *client, *server, c, "across the veth pair");

    // 32 MB: more than the socket buffers on both ends hold, cut after the server has seen some.
    constexpr std::uint64_t count = 2000;
    const std::vector<std::byte> body = pattern_bytes(std::size_t{16} * 1024, 1);
    for (std::uint64_t id = 1; id <= count; ++id) {
        MessagePtr m = make_message(*client_engine, OpCode::signal, c.client, id);
        m->body.copy(body);
        (void)client->post(m);
    }
    (void)wait_for_op(*server, OpCode::signal, c.server);
    hosts.cut_link();

    std::uint64_t returned = 0;
    MessagePtr client_closed = wait_for(
        *client,
        [&](const Message& m) {
            returned += m.is_from_engine() && m.bhdr.proto.op_code == OpCode::signal && m.bhdr.message_id != 0
                            ? 1
                            : 0;
            return is_channel_closed(m, c.client);
        },
        "the client's channel_closed after the link went down", nullptr, 60s);
    EXPECT_EQ(reason_of(*client_closed), status_name(AmpeStatus::peer_disconnected))
        << describe(*client_closed);
    EXPECT_GT(returned, 0U) << "all of the stream was written before the link went down";

    MessagePtr server_closed = wait_channel_closed(*server, c.server);
    EXPECT_EQ(reason_of(*server_closed), status_name(AmpeStatus::peer_disconnected))
        << describe(*server_closed);
#endif
}

}  // namespace
}  // namespace tofu::test

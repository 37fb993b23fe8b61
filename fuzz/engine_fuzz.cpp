// Fuzz target: a whole engine fed arbitrary bytes on an accepted connection. One engine listens on
// an abstract Unix socket for the whole run; each input is one connection that writes the input and
// ends its side. The application accepts every HelloRequest and answers every request, so bytes past
// a Hello reach the established-channel paths too. The engine must close and report that one
// connection (a `channel_closed` report) and stay up: a missing report is a hang, and ASan and
// UBSan watch everything in between. After each input the engine must still be running (an engine
// that stopped, say on an exception thrown out of its loop, counts no listener), and hold no more
// for any connection than `channel_budget`.
//
// An input that starts with "XPND" is a recipe rather than the bytes themselves: records of a
// 16-bit count, an 8-bit length and that many bytes, each record's bytes written count times. So
// short inputs reach text header blocks at their 65,535-byte limit, where the engine's own edits
// (dropping `~` headers, adding `~peer`) once overflowed.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

namespace {

constexpr auto report_timeout = std::chrono::seconds{30};

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "engine_fuzz: %s\n", what);
    std::abort();
}

struct Server {
    /// A connection whose answers back up is let go well within `report_timeout`.
    tofu::Options options{.stall_timeout = std::chrono::seconds{2}};
    std::unique_ptr<tofu::Reactor> engine = tofu::Reactor::create(options);
    tofu::ChannelGroupPtr group = engine->create();
    std::string name = "tofu-fuzz-" + std::to_string(::getpid());
    std::uint16_t listener = 0;

    Server() {
        tofu::MessagePtr welcome = engine->get(tofu::AllocationStrategy::always);
        tofu::format(*welcome, tofu::UdsServerAddress{"@" + name});
        listener = group->post(welcome).channel_number;
        const tofu::MessagePtr ready = group->wait_receive(report_timeout);
        if (!ready || ready->bhdr.proto.op_code != tofu::OpCode::welcome_response ||
            ready->bhdr.status != tofu::AmpeStatus::success) {
            fail("the listener did not start");
        }
    }
};

Server& server() {
    static Server s;
    return s;
}

/// What the connection writes: the input, or the bytes an "XPND" recipe expands to.
std::vector<std::uint8_t> stream_of(std::span<const std::uint8_t> input) {
    constexpr std::array<std::uint8_t, 4> magic{'X', 'P', 'N', 'D'};
    constexpr std::size_t max_expanded = std::size_t{512} * 1024;
    if (input.size() < magic.size() || !std::equal(magic.begin(), magic.end(), input.begin())) {
        return {input.begin(), input.end()};
    }
    std::vector<std::uint8_t> out;
    std::span<const std::uint8_t> rest = input.subspan(magic.size());
    while (rest.size() >= 3 && out.size() < max_expanded) {
        const std::size_t count = std::max<std::size_t>(1, (std::size_t{rest[0]} << 8U) | rest[1]);
        const std::span<const std::uint8_t> chunk =
            rest.subspan(3, std::min<std::size_t>(rest[2], rest.size() - 3));
        rest = rest.subspan(3 + chunk.size());
        for (std::size_t i = 0; i < count && out.size() < max_expanded && !chunk.empty(); ++i) {
            out.insert(out.end(), chunk.begin(), chunk.end());
        }
    }
    return out;
}

int connect_raw(const std::string& abstract_name) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path + 1, abstract_name.data(), abstract_name.size());  // sun_path[0] = 0
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + abstract_name.size());
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&sun), len) != 0) {
        fail("cannot connect to the engine");
    }
    return fd;
}

/// What the application does with one delivered message. Returns true for the report that the fuzzed
/// connection closed.
bool handle(Server& s, tofu::MessagePtr msg) {
    const tofu::BinaryHeader h = msg->bhdr;
    if (msg->is_from_engine()) {
        if (h.proto.op_code == tofu::OpCode::signal && h.status == tofu::AmpeStatus::channel_closed) {
            if (h.channel_number == s.listener) {
                fail("the listener closed");
            }
            return true;
        }
        return false;
    }
    if (h.proto.role() != tofu::MessageRole::request || h.proto.op_code == tofu::OpCode::welcome_request) {
        return false;
    }
    msg->bhdr.proto.op_code = tofu::echo(h.proto.op_code);  // accept Hello, answer Request and Bye
    msg->bhdr.proto.more = false;
    msg->thdrs.reset();
    msg->body.reset();
    try {
        (void)s.group->post(msg);
    } catch (const tofu::Error&) {
        // The channel may have closed meanwhile, or the id is 0: the engine said no, as it should.
    }
    return false;
}

/// Handles what has arrived; waits up to `wait` for the first message. True once the connection's
/// close report came.
bool drain(Server& s, std::chrono::nanoseconds wait) {
    for (tofu::MessagePtr m = s.group->wait_receive(wait); m;
         m = s.group->wait_receive(std::chrono::nanoseconds{0})) {
        if (handle(s, std::move(m))) {
            return true;
        }
    }
    return false;
}

/// Reads and drops what the engine sent, without waiting: the peer reads its answers, so they do
/// not back up (and hold its reading) while the input goes out.
void discard_answers(int fd) {
    std::array<char, 65536> scratch{};
    while (::recv(fd, scratch.data(), scratch.size(), MSG_DONTWAIT) > 0) {
    }
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's entry point
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Server& s = server();
    const std::vector<std::uint8_t> stream = stream_of({data, size});
    const int fd = connect_raw(s.name);
    std::span<const std::uint8_t> rest{stream};
    bool closed = false;
    while (!rest.empty() && !closed) {
        const ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            rest = rest.subspan(static_cast<std::size_t>(n));
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            break;  // the engine closed the connection already
        }
        discard_answers(fd);
        closed = drain(s, std::chrono::milliseconds{n > 0 ? 0 : 1});  // a full socket: let the app catch up
    }
    ::shutdown(fd, SHUT_WR);
    const auto deadline = std::chrono::steady_clock::now() + report_timeout;
    while (!closed) {
        if (std::chrono::steady_clock::now() > deadline) {
            fail("no channel_closed report for the fuzzed connection");
        }
        discard_answers(fd);
        closed = drain(s, std::chrono::milliseconds{100});
    }
    ::close(fd);
    const tofu::EngineMemory held = s.engine->memory();
    if (held.channels == 0) {
        fail("the engine stopped");  // its listener is gone with it
    }
    if (held.largest_channel > tofu::channel_budget(s.options)) {
        fail("a connection holds more than its budget");
    }
    return 0;
}

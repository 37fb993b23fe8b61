// heartbeat: keep-alive Signals, and noticing that the peer is gone.
//
//   example_heartbeat
//
// A peer thread sends an empty Signal every 100 ms and the monitor (the main thread) answers each
// with one of its own. Neither needs a timer: the timeout of wait_receive() is the clock. After 5
// beats the peer vanishes without a goodbye: its group is destroyed, as if its process died, and
// the socket is reset. The monitor learns it from tofu: channel_closed with
// `~reason:peer_disconnected`. A peer that hangs with its socket still open is caught by the
// other rule: no heartbeat for `silence_limit`, and the monitor aborts the channel with a ByeSignal.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <future>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <variant>

#include <tofu/tofu.hpp>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto interval = 100ms;    // between two heartbeats
constexpr auto silence_limit = 5s;  // no heartbeat for this long: the peer is dead
constexpr int beats = 5;            // heartbeats the peer sends before it vanishes

// wait_receive() until `deadline`: null when it passes first.
tofu::MessagePtr receive_until(tofu::ChannelGroup& group, Clock::time_point deadline) {
    return group.wait_receive(std::max<std::chrono::nanoseconds>(deadline - Clock::now(), 0ns));
}

// A heartbeat: a Signal with an empty body (and no text headers), so it costs 16 bytes on the wire.
void send_heartbeat(tofu::Ampe& engine, tofu::ChannelGroup& group, std::uint16_t channel) {
    tofu::MessagePtr beat = engine.get(tofu::AllocationStrategy::always);
    beat->bhdr.proto.op_code = tofu::OpCode::signal;
    beat->bhdr.channel_number = channel;
    group.post(beat);
}

// The peer thread: connects, beats every `interval`, and vanishes once `beats` were answered.
void peer(tofu::Ampe& engine, std::uint16_t port) {
    tofu::ChannelGroupPtr group = engine.create();
    tofu::MessagePtr hello = engine.get(tofu::AllocationStrategy::always);
    tofu::TcpClientAddress{"127.0.0.1", port}.format(*hello);
    const std::uint16_t channel = group->post(hello).channel_number;

    int sent = 0;
    int answered = 0;
    Clock::time_point next_beat = Clock::now();
    while (answered < beats) {
        tofu::MessagePtr msg = receive_until(*group, next_beat);
        if (!msg) {  // time for a beat
            if (++sent > 10 * beats) {
                throw std::runtime_error("peer: the monitor stopped answering");
            }
            send_heartbeat(engine, *group, channel);
            next_beat += interval;
        } else if (msg->bhdr.status != tofu::AmpeStatus::success) {  // a report from the engine
            throw tofu::Error{msg->bhdr.status, "peer"};
        } else if (msg->bhdr.proto.op_code == tofu::OpCode::signal) {
            ++answered;  // the monitor's heartbeat
        }
    }
    std::cout << "peer: " << answered << " heartbeats answered; vanishing without a goodbye\n";
    // Returning destroys `group`: no ByeRequest, the socket is simply reset.
}

int run() {
    auto engine = tofu::Reactor::create(tofu::Options{});
    tofu::ChannelGroupPtr monitor = engine->create();

    tofu::MessagePtr welcome = engine->get(tofu::AllocationStrategy::always);
    tofu::TcpServerAddress{"127.0.0.1", 0}.format(*welcome);
    monitor->post(welcome);
    tofu::MessagePtr ready = monitor->wait_receive(silence_limit);
    if (!ready || ready->bhdr.status != tofu::AmpeStatus::success) {
        throw std::runtime_error("cannot listen");
    }
    const tofu::ParsedAddress bound = tofu::parse_address(*ready);
    const auto* tcp = std::get_if<tofu::TcpServerAddress>(&bound.address);
    if (tcp == nullptr) {
        throw std::runtime_error("the WelcomeResponse names no TCP address");
    }
    auto peer_done = std::async(std::launch::async, peer, std::ref(*engine), tcp->port);

    std::uint16_t channel = 0;  // the peer's channel, once it connected
    int heard = 0;
    Clock::time_point last_heard = Clock::now();
    std::optional<tofu::AmpeStatus> reason;  // why the channel closed, once it did
    while (!reason) {
        tofu::MessagePtr msg = receive_until(*monitor, last_heard + silence_limit);
        if (!msg) {
            if (channel == 0) {
                throw std::runtime_error("no peer connected");
            }
            // Silence: the peer may hang with its socket open. Abort; channel_closed follows.
            std::cout << "monitor: no heartbeat for " << silence_limit.count() << " s, aborting\n";
            tofu::MessagePtr abort = engine->get(tofu::AllocationStrategy::always);
            abort->bhdr.proto.op_code = tofu::OpCode::bye_signal;
            abort->bhdr.channel_number = channel;
            monitor->post(abort);
            last_heard = Clock::now();
            continue;
        }
        if (msg->bhdr.status == tofu::AmpeStatus::channel_closed && msg->bhdr.channel_number == channel) {
            reason = tofu::close_reason(*msg).value_or(tofu::AmpeStatus::unknown_error);  // its ~reason
        } else if (msg->bhdr.status != tofu::AmpeStatus::success) {
            std::cout << "monitor: report " << tofu::status_name(msg->bhdr.status) << '\n';
        } else if (msg->bhdr.proto.op_code == tofu::OpCode::hello_request) {
            channel = msg->bhdr.channel_number;
            msg->bhdr.proto.op_code = tofu::OpCode::hello_response;
            monitor->post(msg);
            last_heard = Clock::now();
        } else if (msg->bhdr.proto.op_code == tofu::OpCode::signal) {
            ++heard;
            last_heard = Clock::now();
            std::cout << "monitor: heartbeat " << heard << '\n';
            try {  // answer with the same empty Signal
                monitor->post(msg);
            } catch (const tofu::Error& e) {  // the peer can vanish at any moment: then the channel is shut
                std::cout << "monitor: cannot answer: " << tofu::status_name(e.status()) << '\n';
            }
        }
    }
    std::cout << "monitor: the peer is gone (reason " << tofu::status_name(*reason) << ") after " << heard
              << " heartbeats\n";
    peer_done.get();  // rethrows what went wrong in the peer thread
    // At least `beats`: the peer may have sent one more before our last answer reached it.
    return heard >= beats && reason == tofu::AmpeStatus::peer_disconnected ? 0 : 1;
}

}  // namespace

int main() {
    try {
        return run();
    } catch (const tofu::Error& e) {  // what failed, and the AmpeStatus saying why
        std::cerr << "tofu error: " << e.what() << " (status " << tofu::status_name(e.status()) << ")\n";
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
    }
    return 1;
}

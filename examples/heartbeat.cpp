// heartbeat: keep-alive Signals, and noticing that the peer is gone.
//
//   example_heartbeat
//
// A peer thread sends an empty Signal every 100 ms and the monitor (the main thread) answers each
// with one of its own. The peer's clock is a timer: update_receiver(msg, interval) hands `msg` back
// to its own receive loop after `interval`, and each tick sets the next one. After 5 beats the peer
// vanishes without a goodbye: its group is destroyed, as if its process died, and the socket is
// reset. The monitor learns it from tofu: channel_closed with `~reason:peer_disconnected`. A peer
// that hangs with its socket still open is caught by the other rule: nothing heard for
// `silence_limit` (the timeout of wait_receive), and the monitor aborts the channel with a ByeSignal.
#include <chrono>
#include <cstdint>
#include <exception>
#include <future>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>

#include <tofu/tofu.hpp>

using namespace std::chrono_literals;

namespace {

constexpr auto interval = 100ms;    // between two heartbeats
constexpr auto silence_limit = 5s;  // nothing from the peer for this long: it is dead
constexpr int beats = 5;            // heartbeats the peer sends before it vanishes

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

    // The first tick: this (empty) message comes back to our own wait_receive() after `interval`.
    group->update_receiver(engine.get(tofu::AllocationStrategy::always), interval);
    int sent = 0;
    int answered = 0;
    while (answered < beats) {
        tofu::MessagePtr msg = group->wait_receive(silence_limit);
        if (!msg) {
            throw std::runtime_error("peer: nothing arrived in time");
        }
        const tofu::Received kind = tofu::classify(*msg);
        if (kind == tofu::Received::wake_up) {  // the tick: beat, and set the next one with the same message
            if (++sent > 10 * beats) {
                throw std::runtime_error("peer: the monitor stopped answering");
            }
            send_heartbeat(engine, *group, channel);
            group->update_receiver(std::move(msg), interval);
        } else if (kind != tofu::Received::from_peer) {  // a report (the monitor is gone?) or a message back
            throw std::runtime_error("peer: " + tofu::to_string(*msg));
        } else if (msg->bhdr.proto.op_code == tofu::OpCode::signal) {
            ++answered;  // the monitor's heartbeat
        }
    }
    std::cout << "peer: " << answered << " heartbeats answered; vanishing without a goodbye\n";
    // Returning destroys `group`: no ByeRequest, the socket is simply reset, the pending tick dropped.
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
    std::optional<tofu::AmpeStatus> reason;  // why the channel closed, once it did
    while (!reason) {
        tofu::MessagePtr msg = monitor->wait_receive(silence_limit);
        if (!msg) {
            if (channel == 0) {
                throw std::runtime_error("no peer connected");
            }
            // Silence: the peer may hang with its socket open. Abort; channel_closed follows.
            std::cout << "monitor: nothing heard for " << silence_limit.count() << " s, aborting\n";
            tofu::MessagePtr abort = engine->get(tofu::AllocationStrategy::always);
            abort->bhdr.proto.op_code = tofu::OpCode::bye_signal;
            abort->bhdr.channel_number = channel;
            monitor->post(abort);
            continue;
        }
        const tofu::OpCode op = msg->bhdr.proto.op_code;
        if (msg->bhdr.status == tofu::AmpeStatus::channel_closed && msg->bhdr.channel_number == channel) {
            reason = tofu::close_reason(*msg).value_or(tofu::AmpeStatus::unknown_error);  // its ~reason
        } else if (tofu::classify(*msg) != tofu::Received::from_peer) {  // a report, or an answer back
            std::cout << "monitor: " << *msg << '\n';
        } else if (op == tofu::OpCode::hello_request) {
            channel = msg->bhdr.channel_number;
            msg->bhdr.proto.op_code = tofu::OpCode::hello_response;
            monitor->post(msg);
        } else if (op == tofu::OpCode::signal) {
            ++heard;
            std::cout << "monitor: heartbeat " << heard << '\n';
            // Answer with the same empty Signal. The peer can vanish at any moment: then the channel
            // is shut, and this post() without exceptions says so in `ec`.
            std::error_code ec;
            monitor->post(msg, ec);
            if (ec) {
                std::cout << "monitor: cannot answer: " << ec.message() << '\n';
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

#include "server.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>
#include <tofu/stop_signals.hpp>

#include "engine_reports.hpp"
#include "errors.hpp"
#include "tls_flags.hpp"
#include "url.hpp"

namespace tofu::cli {
namespace {

using Clock = std::chrono::steady_clock;

class Server {
public:
    Server(Ampe& engine, ChannelGroup& group, const ServerHooks& hooks)
        : engine_{engine}, group_{group}, hooks_{hooks} {}

    /// Posts the WelcomeRequest and waits for its answer. False when a stop signal came first;
    /// throws `CommandError` when listening failed.
    bool start(const Address& address, const std::string& url);

    /// Serves until stopped; returns the exit code.
    int serve();

private:
    void handle(MessagePtr msg);
    /// Posts `msg`; false when the library refused it. A refusal other than the race with a
    /// closing channel is reported on stderr: one client's message never stops the server.
    bool post(MessagePtr& msg);
    void on_engine_report(const Message& msg);
    void on_stop_signal();
    void begin_stop();
    void post_new(OpCode op, std::uint16_t channel);
    [[nodiscard]] bool finished() const noexcept;
    [[nodiscard]] std::chrono::nanoseconds next_timeout() const;

    Ampe& engine_;
    ChannelGroup& group_;
    const ServerHooks& hooks_;
    std::string url_;
    std::uint16_t listener_ = 0;
    bool listener_open_ = false;
    std::set<std::uint16_t> peers_;        ///< accepted channels not closed yet
    std::set<std::uint16_t> byes_posted_;  ///< channels where we posted ByeRequest or ByeResponse
    bool stopping_ = false;
    bool cut_short_ = false;  ///< a second signal: stop waiting for clients
    Clock::time_point close_deadline_;
    int exit_code_ = exit_success;
};

bool Server::start(const Address& address, const std::string& url) {
    url_ = url;
    MessagePtr welcome = engine_.get(AllocationStrategy::always);
    format(*welcome, address);
    listener_ = group_.post(welcome).channel_number;
    AmpeStatus failed = AmpeStatus::success;
    for (;;) {
        MessagePtr msg = group_.wait_receive(wait_forever);
        if (!stop_signal_of(*msg).empty()) {
            return false;
        }
        if (msg->bhdr.channel_number != listener_) {
            continue;  // nothing else is open yet
        }
        if (msg->bhdr.proto.op_code == OpCode::welcome_response) {
            if (msg->bhdr.status != AmpeStatus::success) {
                failed = msg->bhdr.status;  // the channel_closed report that follows has the details
                continue;
            }
            listener_open_ = true;
            const std::string bound{msg->thdrs.find(header::listen_on).value_or("")};
            std::fprintf(stderr, "tofu: listening on %s\n",
                         url_from_header_value(bound, AddressRole::server).c_str());
            std::fflush(stderr);
            return true;
        }
        if (is_channel_closed(*msg)) {
            const CloseReport report = close_report(*msg, failed);
            throw tofu_failure(report.reason, url_, report.detail);
        }
    }
}

int Server::serve() {
    while (!finished()) {
        MessagePtr msg = group_.wait_receive(next_timeout());
        if (!msg) {
            break;  // the clients did not answer our ByeRequest in time: the engine resets them
        }
        handle(std::move(msg));
    }
    return exit_code_;
}

bool Server::finished() const noexcept {
    return cut_short_ || (stopping_ && !listener_open_ && peers_.empty());
}

std::chrono::nanoseconds Server::next_timeout() const {
    if (!stopping_) {
        return wait_forever;
    }
    return std::max(std::chrono::nanoseconds{0}, close_deadline_ - Clock::now());
}

void Server::handle(MessagePtr msg) {
    if (!stop_signal_of(*msg).empty()) {
        on_stop_signal();
        return;
    }
    hooks_.observe(*msg);
    if (msg->is_from_engine()) {
        on_engine_report(*msg);
        return;
    }
    const std::uint16_t channel = msg->bhdr.channel_number;
    switch (msg->bhdr.proto.op_code) {
        case OpCode::hello_request:
            // Accept by answering with the same message; a stopping server rejects instead.
            msg->bhdr.proto.op_code = stopping_ ? OpCode::bye_signal : OpCode::hello_response;
            if (post(msg)) {
                if (!stopping_) {
                    peers_.insert(channel);
                }
            } else if (!stopping_) {
                post_new(OpCode::bye_signal, channel);  // not accepted: do not leave it waiting
            }
            return;
        case OpCode::bye_request:
            msg->bhdr.proto.op_code = OpCode::bye_response;
            byes_posted_.insert(channel);
            static_cast<void>(post(msg));
            return;
        case OpCode::request:
        case OpCode::response:
        case OpCode::signal:
            if (hooks_.answer(*msg)) {
                static_cast<void>(post(msg));
            }
            if (!stopping_ && hooks_.done()) {
                begin_stop();
            }
            return;
        default: return;  // ByeResponse to our ByeRequest: channel_closed follows
    }
}

bool Server::post(MessagePtr& msg) {
    const BinaryHeader h = msg->bhdr;
    try {
        return post_unless_closed(group_, msg);
    } catch (const Error& e) {
        std::fprintf(stderr, "tofu: channel %u: %s refused: %s\n", static_cast<unsigned>(h.channel_number),
                     std::string{op_code_name(h.proto.op_code)}.c_str(), e.what());
        std::fflush(stderr);
        msg.reset();
        return false;
    }
}

void Server::on_engine_report(const Message& msg) {
    // Returned messages are followed by their channel's close report; pool_empty resolves itself.
    if (!is_channel_closed(msg)) {
        return;
    }
    const std::uint16_t channel = msg.bhdr.channel_number;
    peers_.erase(channel);
    byes_posted_.erase(channel);
    if (channel == listener_ && listener_open_) {
        listener_open_ = false;
        if (!stopping_) {
            // Nobody asked it to close: report it, and end the server after its clients.
            const CloseReport report = close_report(msg, AmpeStatus::channel_closed);
            std::string detail{"the listener closed"};
            if (!report.detail.empty()) {
                detail.append(": ").append(report.detail);
            }
            std::fprintf(stderr, "tofu: %s\n", describe_failure(report.reason, url_, detail).c_str());
            exit_code_ = exit_failure;
            begin_stop();
        }
    }
}

void Server::on_stop_signal() {
    if (stopping_) {
        cut_short_ = true;
    } else {
        begin_stop();
    }
}

void Server::begin_stop() {
    stopping_ = true;
    close_deadline_ = Clock::now() + server_close_timeout;
    if (listener_open_) {
        post_new(OpCode::bye_signal, listener_);  // its channel_closed report follows
    }
    for (const std::uint16_t channel : peers_) {
        if (byes_posted_.insert(channel).second) {
            post_new(OpCode::bye_request, channel);
        }
    }
}

void Server::post_new(OpCode op, std::uint16_t channel) {
    MessagePtr msg = engine_.get(AllocationStrategy::always);
    msg->bhdr.proto.op_code = op;
    msg->bhdr.channel_number = channel;
    static_cast<void>(post(msg));
}

}  // namespace

int run_server(const Address& address, const std::string& url, const TlsOptions& tls,
               const ServerHooks& hooks) {
    check_tls_flags(address, url, tls);
    const std::unique_ptr<Reactor> engine = Reactor::create(engine_options(tls));
    const ChannelGroupPtr group = engine->create();
    const StopSignals stop_signals{*group};  // SIGINT, SIGTERM: a message in the group's queue
    Server server{*engine, *group, hooks};
    if (!server.start(address, url)) {
        return exit_success;
    }
    return server.serve();
}

}  // namespace tofu::cli

#include "client.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "engine_reports.hpp"
#include "errors.hpp"
#include "print.hpp"

namespace tofu::cli {

ClientSession::ClientSession(Ampe& engine, ChannelGroup& group, std::string url, PrintStyle style)
    : engine_{engine}, group_{group}, url_{std::move(url)}, style_{style} {}

void ClientSession::connect(const Address& to) {
    MessagePtr hello = engine_.get(AllocationStrategy::always);
    format(*hello, to);
    channel_ = group_.post(hello).channel_number;
    MessagePtr msg;
    while (next(msg)) {
        if (msg->bhdr.proto.op_code == OpCode::hello_response) {
            return;
        }
    }
    fail_closed("before accepting the connection");
}

std::uint64_t ClientSession::send(OpCode op, const std::vector<HeaderField>& headers, std::string_view data) {
    std::uint64_t message_id = 0;  // the engine assigns it to the first part
    std::size_t offset = 0;
    do {
        const std::string_view part = data.substr(offset, max_part_size);
        offset += part.size();
        MessagePtr msg = engine_.get(AllocationStrategy::always);
        msg->bhdr.proto.op_code = op;
        msg->bhdr.proto.more = offset < data.size();
        msg->bhdr.channel_number = channel_;
        msg->bhdr.message_id = message_id;
        if (message_id == 0) {
            for (const auto& [name, value] : headers) {
                msg->thdrs.append(name, value);
            }
        }
        msg->body.copy(part);
        try {
            message_id = group_.post(msg).message_id;
        } catch (const Error& e) {
            if (e.status() != AmpeStatus::invalid_channel_number) {
                throw;
            }
            // The peer went away while we were sending: its close report says why.
            MessagePtr skipped;
            while (next(skipped)) {
            }
            fail_closed("while sending");
        }
    } while (offset < data.size());
    return message_id;
}

void ClientSession::await_answer(std::uint64_t message_id) {
    MessagePtr msg;
    while (next(msg)) {
        const BinaryHeader& h = msg->bhdr;
        if (h.proto.op_code == OpCode::response && h.message_id == message_id && !h.proto.more) {
            return;
        }
    }
    fail_closed("before answering");
}

void ClientSession::close() {
    if (!closed_ && !bye_answered_) {
        MessagePtr bye = engine_.get(AllocationStrategy::always);
        bye->bhdr.proto.op_code = OpCode::bye_request;
        bye->bhdr.channel_number = channel_;
        static_cast<void>(post_unless_closed(group_, bye));
    }
    MessagePtr msg;
    while (next(msg)) {
    }
    if (closed_report_.reason != status_name(AmpeStatus::success)) {
        throw tofu_failure(closed_report_.reason, url_, closed_report_.detail);
    }
}

bool ClientSession::next(MessagePtr& msg) {
    while (!closed_) {
        msg = group_.wait_receive(wait_forever);
        if (msg->bhdr.channel_number != channel_) {
            continue;
        }
        if (is_channel_closed(*msg)) {
            closed_ = true;
            closed_report_ = close_report(*msg, returned_status_);
            break;
        }
        if (msg->is_from_engine()) {
            // A message given back (e.g. the HelloRequest with connect_failed) precedes the close
            // report; pool_empty only says the engine paused reading, and resumes by itself.
            if (msg->bhdr.status != AmpeStatus::success && msg->bhdr.status != AmpeStatus::pool_empty) {
                returned_status_ = msg->bhdr.status;
            }
            continue;
        }
        switch (msg->bhdr.proto.op_code) {
            case OpCode::request:
            case OpCode::response:
            case OpCode::signal: print_message(*msg, style_); return true;
            case OpCode::bye_request:
                msg->bhdr.proto.op_code = OpCode::bye_response;
                bye_answered_ = true;
                static_cast<void>(post_unless_closed(group_, msg));
                continue;
            default: return true;
        }
    }
    msg.reset();
    return false;
}

void ClientSession::fail_closed(std::string_view while_doing) const {
    if (closed_report_.reason == status_name(AmpeStatus::success)) {
        throw tofu_failure(status_name(AmpeStatus::channel_closed), url_,
                           "the peer closed the channel " + std::string{while_doing});
    }
    throw tofu_failure(closed_report_.reason, url_, closed_report_.detail);
}

}  // namespace tofu::cli

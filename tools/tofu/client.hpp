// The client side of `tofu send`: one connection from HelloRequest to a graceful close.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/status.hpp>

#include "engine_reports.hpp"
#include "print.hpp"

namespace tofu::cli {

/// A text header given on the command line.
using HeaderField = std::pair<std::string, std::string>;

/// One connection. Every data message the peer sends (Request, Response, Signal) is printed as it
/// arrives; a ByeRequest from the peer is answered. Failures throw `CommandError` naming the
/// status, e.g. "connect_failed: tcp://127.0.0.1:9 (Connection refused)".
class ClientSession {
public:
    ClientSession(Ampe& engine, ChannelGroup& group, std::string url, PrintStyle style);

    /// Posts the HelloRequest and waits for the server's HelloResponse.
    void connect(const Address& to);

    /// Sends `data` as one message of `op`, in parts of at most 65535 bytes with the same message
    /// id and `more` set on all but the last; `headers` go with the first part. Returns the id.
    std::uint64_t send(OpCode op, const std::vector<HeaderField>& headers, std::string_view data);

    /// Waits for the Response to `message_id` that has no `more` after it.
    void await_answer(std::uint64_t message_id);

    /// Posts ByeRequest (unless the peer already asked to close) and waits until the channel closes;
    /// a reason other than `success` is a failure.
    void close();

private:
    /// The next message on this connection; false when the channel closed (see `closed_report_`).
    bool next(MessagePtr& msg);
    [[noreturn]] void fail_closed(std::string_view while_doing) const;

    Ampe& engine_;
    ChannelGroup& group_;
    std::string url_;
    PrintStyle style_;
    std::uint16_t channel_ = 0;
    AmpeStatus returned_status_ = AmpeStatus::channel_closed;  ///< of a message the engine gave back
    bool bye_answered_ = false;
    bool closed_ = false;
    CloseReport closed_report_;
};

}  // namespace tofu::cli

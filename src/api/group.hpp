// A channel group as the application holds it: posts go to the engine, receives come from the
// group's receive queue (shared/receive_queue.hpp), which is all the engine thread knows of it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <system_error>

#include <tofu/channel_group.hpp>

#include "shared/receive_queue.hpp"

namespace tofu::detail {

class EngineCore;

class Group final : public ChannelGroup {
public:
    Group(std::shared_ptr<EngineCore> core, std::uint32_t id);
    /// Asks the engine to close this group's channels and drop its timers, and waits until it let
    /// go of the group.
    ~Group() override;
    Group(const Group&) = delete;
    Group& operator=(const Group&) = delete;
    Group(Group&&) = delete;
    Group& operator=(Group&&) = delete;

    BinaryHeader post(MessagePtr& msg) override;
    BinaryHeader post(MessagePtr& msg, std::error_code& ec) noexcept override;
    [[nodiscard]] MessagePtr wait_receive(std::chrono::nanoseconds timeout) override;
    [[nodiscard]] MessagePtr try_receive() override;
    [[nodiscard]] NativeHandle native_handle() override;
    [[nodiscard]] std::shared_ptr<ReceiveWatch> watch() override;
    void update_receiver(MessagePtr msg) override;
    TimerId update_receiver(MessagePtr msg, std::chrono::nanoseconds delay) override;
    bool cancel_timer(TimerId id) noexcept override;

    [[nodiscard]] ReceiveQueue& queue() noexcept { return queue_; }

private:
    std::shared_ptr<EngineCore> core_;
    ReceiveQueue queue_;
    /// The watch behind `native_handle()`, made on its first call.
    std::shared_ptr<QueueWatch> handle_watch_;
};

}  // namespace tofu::detail

// The engine as application threads reach it: posting (validate, enqueue, wake), groups, counting,
// and the engine thread's lifetime. What both sides share is `EngineState`; the event loop itself
// (engine thread only) is `Loop`.
//
// Groups keep the core alive, so a group outliving its engine is safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include <tofu/ampe.hpp>

#include "api/post_refusal.hpp"
#include "shared/engine_state.hpp"

namespace tofu::detail {

class Loop;
class ReceiveQueue;

class EngineCore : public std::enable_shared_from_this<EngineCore> {
public:
    explicit EngineCore(const Options& options);
    ~EngineCore();
    EngineCore(const EngineCore&) = delete;
    EngineCore& operator=(const EngineCore&) = delete;
    EngineCore(EngineCore&&) = delete;
    EngineCore& operator=(EngineCore&&) = delete;

    /// Starts the engine thread.
    void start();
    /// Stops the engine thread: every channel closes, then the thread ends. Idempotent.
    void stop() noexcept;

    [[nodiscard]] MessagePool& pool() noexcept { return state_.pool(); }
    [[nodiscard]] const Options& options() const noexcept { return state_.options(); }
    [[nodiscard]] ChannelGroupPtr create_group();

    /// `ChannelGroup::post` for the group of `group` (see channel_group.hpp for the contract).
    BinaryHeader post(ReceiveQueue& group, MessagePtr& msg);
    /// `post` without exceptions: `why` stays `none` on success, else names the refusal (the
    /// status is set on `msg`, which stays with the caller) and the return is `msg`'s header.
    BinaryHeader try_post(ReceiveQueue& group, MessagePtr& msg, PostRefusal& why) noexcept;

    /// Keeps `msg` (made ready for delivery) for `group` until `delay` has passed; 0, with `msg`
    /// left with the caller, when the engine has stopped and no timer can fire.
    TimerId set_timer(ReceiveQueue& group, MessagePtr& msg, std::chrono::nanoseconds delay);
    /// `ChannelGroup::cancel_timer` for `group`.
    bool cancel_timer(const ReceiveQueue& group, TimerId id) noexcept;
    /// Releases `group`'s pending timers (the engine thread is gone and will not).
    void drop_timers(const ReceiveQueue& group) noexcept;

    /// Asks the engine to let go of `group`; false when the engine has already stopped (nothing to
    /// wait for), true when the group must wait for `ReceiveQueue::acknowledge_destroy`.
    bool request_group_destroy(ReceiveQueue& group);

    /// `Reactor::memory`: asks the engine thread to count, and waits for its answer. Any thread.
    [[nodiscard]] EngineMemory memory() { return state_.memory(loop_ != nullptr); }

    /// A message made by the engine (`EngineState::engine_message`).
    [[nodiscard]] MessagePtr engine_message(OpCode op, AmpeStatus status, std::uint16_t channel) {
        return state_.engine_message(op, status, channel);
    }

private:
    EngineState state_;
    std::atomic<std::uint32_t> next_group_id_{1};
    std::unique_ptr<Loop> loop_;
    std::thread thread_;
};

}  // namespace tofu::detail

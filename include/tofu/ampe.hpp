/// @file
/// The engine: `Ampe` (Async Message Passing Engine) and its implementation `Reactor`.
#pragma once

#include <chrono>
#include <memory>

#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>

namespace tofu {

/// The engine interface: owns the message pool, creates and destroys channel groups.
/// Every member is thread-safe.
class Ampe {
public:
    /// A message from the pool, reset. With `pool_only`, null when the pool is empty; with
    /// `always`, a new message then.
    [[nodiscard]] virtual MessagePtr get(AllocationStrategy strategy) = 0;

    /// A message from the pool, reset, waiting up to `timeout` (or `wait_forever`) for one to come
    /// back when the pool is empty; null when none came back in time. Never allocates: a sender
    /// that takes its messages this way keeps at most the pool's size in flight, which is tofu's
    /// flow control (the pool's size is the credit).
    [[nodiscard]] virtual MessagePtr wait_get(std::chrono::nanoseconds timeout) = 0;

    /// Returns a message to the pool (same as letting the pointer die). A standalone message from
    /// `Message::create` is adopted. A full pool frees the message.
    virtual void put(MessagePtr&& msg) noexcept = 0;

    /// A new channel group. Throws `Error(shutdown_started)` once the engine is going away.
    [[nodiscard]] virtual ChannelGroupPtr create() = 0;

    /// Destroys a group now (same as letting the handle die).
    virtual void destroy(ChannelGroupPtr&& group) noexcept = 0;

    Ampe(const Ampe&) = delete;
    Ampe& operator=(const Ampe&) = delete;
    Ampe(Ampe&&) = delete;
    Ampe& operator=(Ampe&&) = delete;
    virtual ~Ampe() = default;

protected:
    Ampe() = default;
};

/// The engine: one internal thread running an event loop over the platform's poller.
/// Several per process are allowed. Destroying it stops the thread, closes every socket and frees
/// the pool's messages; messages the application still holds stay valid to release, and channel
/// groups still alive only return what they already received.
class Reactor : public Ampe {
public:
    /// Starts an engine: `auto engine = tofu::Reactor::create(tofu::Options{});`. Throws `Error`
    /// when the options are invalid (`not_allowed`) or the OS refuses a resource
    /// (`allocation_failed`, `notification_failed`).
    ///
    /// The options are not defaulted on purpose: `engine->create()` must mean `Ampe::create()`,
    /// a new channel group, and never a second engine.
    [[nodiscard]] static std::unique_ptr<Reactor> create(const Options& options);

    using Ampe::create;

    /// What the engine holds now, by its own accounting: every open channel's bytes (each within
    /// `channel_budget`) and the pool's messages. Asks the engine thread and waits for its answer
    /// (one loop turn): for monitoring and tests, not for a hot path. Any thread.
    [[nodiscard]] virtual EngineMemory memory() = 0;

protected:
    Reactor() = default;
};

}  // namespace tofu

// The engine's state shared between application threads and the engine thread: pool, channel
// owners, inbox, notifier, lifecycle. The event loop itself (engine thread only) is `Loop`.
//
// Application threads reach the engine only through `post` (validate, enqueue, wake) and
// `request_group_destroy`. Groups keep the core alive, so a group outliving its engine is safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include <tofu/ampe.hpp>

#include "engine/channel_owners.hpp"
#include "engine/inbox.hpp"
#include "engine/message_pool.hpp"
#include "engine/notifier.hpp"

namespace tofu::detail {

class Group;
class Loop;

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

    [[nodiscard]] MessagePool& pool() noexcept { return *pool_; }
    [[nodiscard]] const Options& options() const noexcept { return options_; }
    [[nodiscard]] ChannelGroupPtr create_group();

    /// `ChannelGroup::post` for `group` (see channel_group.hpp for the contract).
    BinaryHeader post(Group& group, MessagePtr& msg);

    /// Asks the engine to drop `group`; false when the engine has already stopped (nothing to
    /// wait for), true when the group must wait for `Group::acknowledge_destroy`.
    bool request_group_destroy(Group& group);

    /// `Reactor::memory`: asks the engine thread to count, and waits for its answer. Any thread.
    [[nodiscard]] EngineMemory memory();
    /// Engine thread: true once when a `memory` call waits for an answer.
    [[nodiscard]] bool memory_wanted() noexcept { return memory_wanted_.exchange(false); }
    /// Engine thread: answers every `memory` call waiting (the pool's counts are added here).
    void answer_memory(EngineMemory counted);

    /// A message made by the engine (origin engine): an idle pool message, else a standalone one
    /// (never a new pool message).
    [[nodiscard]] MessagePtr engine_message(OpCode op, AmpeStatus status, std::uint16_t channel);
    /// Makes `msg` (a reset message) an engine message, as `engine_message` does.
    static void stamp_engine_message(Message& msg, OpCode op, AmpeStatus status,
                                     std::uint16_t channel) noexcept;

    /// Wakes the engine thread if it sleeps; free when it is awake. Any thread.
    void wake() noexcept {
        // Load first: while the engine is awake this costs no write to its cache line.
        if (sleeping_.load(std::memory_order_seq_cst) &&
            sleeping_.exchange(false, std::memory_order_seq_cst)) {
            notifier_.notify();
        }
    }

    /// Engine thread, back from its poller: no longer asleep. Written only when set, so that a
    /// busy engine (or one spinning on non-blocking polls) never writes the line `wake` reads.
    void mark_awake() noexcept {
        if (sleeping_.load(std::memory_order_relaxed)) {
            sleeping_.store(false, std::memory_order_seq_cst);
        }
    }

private:
    friend class Loop;

    /// Marks an inbox message as a command (not a message to send).
    static constexpr std::uint16_t command_channel = internal_channel;

    Options options_;
    MessagePool::Ptr pool_;
    ChannelOwners owners_;
    Inbox inbox_;
    Notifier notifier_;

    std::atomic<bool> sleeping_{false};  ///< the engine is (about to be) blocked in its poller
    std::atomic<bool> stop_requested_{false};
    std::atomic<bool> accepting_posts_{true};
    std::atomic<bool> pool_refilled_{false};  ///< set by the pool's refill hook
    std::atomic<std::uint32_t> next_group_id_{1};

    std::mutex lifecycle_mutex_;
    bool loop_finished_ = false;  ///< guarded by lifecycle_mutex_

    std::atomic<bool> memory_wanted_{false};   ///< a `memory` call waits for the engine to count
    std::condition_variable memory_answered_;  ///< with lifecycle_mutex_
    std::uint64_t memory_asked_ = 0;           ///< `memory` calls so far; guarded by lifecycle_mutex_
    std::uint64_t memory_answers_ = 0;         ///< calls answered; guarded by lifecycle_mutex_
    EngineMemory memory_answer_;               ///< the latest answer; guarded by lifecycle_mutex_

    std::unique_ptr<Loop> loop_;
    std::thread thread_;
};

}  // namespace tofu::detail

#include "shared/engine_state.hpp"

namespace tofu::detail {

EngineState::EngineState(const Options& options)
    : pool_{MessagePool::create(options)}, owners_{options.max_channels}, options_{options} {
    pool_->set_refill_hook([this] {
        pool_refilled_.store(true, std::memory_order_seq_cst);
        wake();
    });
}

EngineState::~EngineState() {
    // The hook points at this state: unhook before the notifier goes. Messages the application
    // still holds keep the pool itself alive.
    pool_->set_refill_hook(nullptr);
}

void EngineState::request_stop() noexcept {
    accepting_posts_.store(false);
    stop_requested_.store(true, std::memory_order_seq_cst);
    sleeping_.store(false);
    notifier_.notify();
}

bool EngineState::push_command(MessagePtr& command) {
    const std::lock_guard lock{lifecycle_mutex_};
    if (loop_finished_ || !command) {
        return false;
    }
    push(std::move(command));
    wake();
    return true;
}

EngineMemory EngineState::memory(bool loop_started) {
    std::unique_lock lock{lifecycle_mutex_};
    if (!loop_finished_ && loop_started) {
        const std::uint64_t ticket = ++memory_asked_;
        memory_wanted_.store(true, std::memory_order_seq_cst);
        wake();
        memory_answered_.wait(lock, [&] { return memory_answers_ >= ticket || loop_finished_; });
        if (memory_answers_ >= ticket) {
            return memory_answer_;
        }
    }
    // The engine thread is gone: no channel is open, only the pool is left to count.
    EngineMemory answer;
    lock.unlock();
    answer.pool_idle = pool_->idle();
    answer.pool_out = pool_->outstanding();
    answer.timers = timers_.pending();
    return answer;
}

void EngineState::answer_memory(EngineMemory counted) {
    counted.pool_idle = pool_->idle();
    counted.pool_out = pool_->outstanding();
    counted.timers = timers_.pending();
    {
        const std::lock_guard lock{lifecycle_mutex_};
        memory_answer_ = counted;
        memory_answers_ = memory_asked_;
    }
    memory_answered_.notify_all();
}

void EngineState::finish_loop() {
    {
        const std::lock_guard lock{lifecycle_mutex_};
        loop_finished_ = true;
    }
    memory_answered_.notify_all();  // a `memory` call waiting gets the pool's counts
}

MessagePtr EngineState::engine_message(OpCode op, AmpeStatus status, std::uint16_t channel) {
    // An idle pool message, else a standalone one: freed when released, so reports never add to
    // the pool's messages (a report that joined the pool would be read into, and a peer that
    // keeps the engine reporting would grow the pool without end).
    MessagePtr m = pool_->try_get();
    if (!m) {
        m = Message::create();
    }
    stamp_engine_message(*m, op, status, channel);
    return m;
}

void EngineState::stamp_engine_message(Message& msg, OpCode op, AmpeStatus status,
                                       std::uint16_t channel) noexcept {
    msg.bhdr.proto.op_code = op;
    msg.bhdr.proto.origin = Origin::engine;
    msg.bhdr.status = status;
    msg.bhdr.channel_number = channel;
}

}  // namespace tofu::detail

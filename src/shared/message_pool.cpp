#include "shared/message_pool.hpp"

#include <algorithm>
#include <new>
#include <string>

#include "message/message_access.hpp"
#include "shared/brief_lock.hpp"
#include "shared/deadline.hpp"
#include "shared/prefetch.hpp"

namespace tofu::detail {

MessagePool::Ptr MessagePool::create(const Options& options) {
    if (options.max_pool_msgs == 0 || options.max_pool_msgs < options.initial_pool_msgs) {
        throw Error{AmpeStatus::not_allowed, "pool options: max_pool_msgs (" +
                                                 std::to_string(options.max_pool_msgs) +
                                                 ") must be at least 1 and at least initial_pool_msgs (" +
                                                 std::to_string(options.initial_pool_msgs) + ")"};
    }
    Ptr pool{new MessagePool{options.max_pool_msgs}};
    pool->free_.reserve(options.initial_pool_msgs);
    for (std::uint32_t i = 0; i < options.initial_pool_msgs; ++i) {
        pool->free_.push_back(idle_entry(pool->make_message()));
    }
    return pool;
}

MessagePool::~MessagePool() {
    Message* surplus = nullptr;
    drain_locked(surplus);  // nothing should be left there; the pool is closed, so all is surplus
    free_surplus(surplus, nullptr);
    for (const Idle& idle : free_) {
        delete idle.msg;
    }
}

MessagePool::Idle MessagePool::idle_entry(Message* msg) noexcept {
    return {msg, MessageAccess::body_buffer(*msg).bytes().data()};
}

Message* MessagePool::make_message() {
    Message* m = MessageAccess::make();
    MessageAccess::home(*m) = this;
    return m;
}

MessagePtr MessagePool::pop_locked() noexcept {
    Message* m = free_.back().msg;  // the latest back: the likeliest to be in a cache
    free_.pop_back();
    if (!free_.empty()) {
        // The next get's message and body, on their way meanwhile: its taker writes both, and
        // they were last written on another core.
        prefetch_message_and_body(free_.back().msg, free_.back().body);
    }
    ++outstanding_;
    ++handed_;
    return MessagePtr{m};
}

MessagePtr MessagePool::get(AllocationStrategy strategy) {
    return acquire(strategy == AllocationStrategy::always ? Make::always : Make::never);
}

MessagePtr MessagePool::get_for_read() {
    return acquire(Make::below_max);
}

MessagePtr MessagePool::acquire(Make make) {
    Message* surplus = nullptr;
    MessagePtr got;
    bool make_one = false;
    {
        const std::unique_lock lock = lock_briefly(mutex_);
        if (free_.empty()) {
            drain_and_arm_locked(surplus);
        }
        if (free_.empty()) {
            make_one = make == Make::always ||
                       (make == Make::below_max && !closed_ && free_.size() + outstanding_ < max_idle_);
        }
        if (free_.empty() && !make_one) {
            const bool starved_before = starved_;  // an earlier empty get still waits for the hook
            starved_ = true;
            settle_locked();  // armed: the next return calls the refill hook
            if (returns_.load(std::memory_order_seq_cst) != nullptr) {
                // One came back before the alarm was armed: this get takes it and is not starved
                // (the hook is called for an earlier one only).
                starved_ = starved_before;
                drain_and_arm_locked(surplus);
            }
        }
        if (!free_.empty()) {
            got = pop_locked();
        } else if (make_one) {
            ++outstanding_;
            ++handed_;
        }
    }
    free_surplus(surplus, nullptr);
    if (got || !make_one) {
        return got;
    }
    try {
        return MessagePtr{make_message()};
    } catch (...) {
        const std::lock_guard lock{mutex_};
        --outstanding_;
        --handed_;
        if (make == Make::always) {
            throw;
        }
        return {};
    }
}

MessagePtr MessagePool::try_get() {
    Message* surplus = nullptr;
    MessagePtr got;
    {
        const std::unique_lock lock = lock_briefly(mutex_);
        if (free_.empty()) {
            drain_and_arm_locked(surplus);
        }
        if (!free_.empty()) {
            got = pop_locked();
        }
    }
    free_surplus(surplus, nullptr);
    return got;
}

std::size_t MessagePool::take_idle(MessageQueue& into, std::size_t at_most) {
    Message* surplus = nullptr;
    std::size_t taken = 0;
    {
        const std::unique_lock lock = lock_briefly(mutex_);
        // Drain only when the array is empty: the returned messages are linked through
        // themselves, and a walk over them is a cache miss per message on this thread. Their
        // returner drains them itself every `returns_batch`, while they are in its cache.
        if (free_.empty()) {
            drain_and_arm_locked(surplus);
        }
        for (; taken < at_most && !free_.empty(); ++taken) {
            into.push_back(pop_locked());
        }
    }
    free_surplus(surplus, nullptr);
    return taken;
}

MessagePtr MessagePool::wait_get(std::chrono::nanoseconds timeout) {
    Message* surplus = nullptr;
    MessagePtr got;
    {
        std::unique_lock lock = lock_briefly(mutex_);
        if (free_.size() <= reserve_locked()) {
            drain_and_arm_locked(surplus);
        }
        if (free_.size() <= reserve_locked() && !closed_ && timeout > std::chrono::nanoseconds::zero()) {
            ++waiting_;
            // Draining in the predicate: the returns that woke us are on the stack, not the list.
            wait_at_most(returned_cv_, lock, timeout, [this, &surplus] {
                if (free_.size() < wake_level_locked() && !closed_) {
                    drain_and_arm_locked(surplus);
                }
                return free_.size() >= wake_level_locked() || closed_;
            });
            --waiting_;  // the alarm stays set for our batch: at worst one early call, which re-arms it
        }
        if (free_.size() > reserve_locked() && !closed_) {
            got = pop_locked();
        }
    }
    free_surplus(surplus, nullptr);
    return got;
}

void MessagePool::put(MessagePtr&& msg) noexcept {
    if (!msg) {
        return;
    }
    MessageHome*& home = MessageAccess::home(*msg);
    if (home == nullptr) {
        // Adopt a standalone message: count it as handed out, then take it back below.
        const std::lock_guard lock{mutex_};
        home = this;
        ++outstanding_;
        ++handed_;
    }
    msg.reset();  // goes to its home through the deleter
}

void MessagePool::take_back(Message* msg) noexcept {
    msg->reset();
    push_returns(msg, msg, 1);
}

void MessagePool::take_back_all(MessageQueue& batch) noexcept {
    if (batch.empty()) {
        return;
    }
    for (Message* m = batch.front(); m != nullptr; m = MessageQueue::next_of(m)) {
        m->reset();
    }
    const std::uint64_t n = batch.size();
    Message* last = batch.back();
    push_returns(batch.release_all(), last, n);
}

bool MessagePool::owns(const Message& msg) const noexcept {
    return MessageAccess::home(msg) == this;
}

// --- The return path ----------------------------------------------------------------------------

void MessagePool::push_returns(Message* first, Message* last, std::uint64_t n) noexcept {
    Message* head = returns_.load(std::memory_order_relaxed);
    do {
        MessageAccess::next(*last) = head;
    } while (
        !returns_.compare_exchange_weak(head, first, std::memory_order_seq_cst, std::memory_order_relaxed));
    const std::uint64_t before = tally_.fetch_add(n + one_add, std::memory_order_seq_cst);
    const std::uint64_t count = before & count_mask;
    const bool crossed = count < alarm_bit && count + n >= alarm_bit;
    if ((before & closed_flag) != 0 || crossed) {
        answer_call();
    }
    // Nothing here: unless this thread called, the pool may already be gone.
}

void MessagePool::answer_call() noexcept {
    Message* surplus = nullptr;
    bool last = false;
    {
        const std::unique_lock lock = lock_briefly(mutex_);
        settle_locked();  // counts this call among callers_, whoever settled before
        --callers_;
        drain_and_arm_locked(surplus);
        announce_locked();
        last = finished_locked();
    }
    free_surplus(surplus, last ? this : nullptr);
}

void MessagePool::drain_locked(Message*& surplus) noexcept {
    // The stack holds the latest return first; they go onto the free array latest last, so the
    // next `pop_locked` takes the latest. Past the pool's room, the oldest are surplus.
    const std::size_t kept_from = free_.size();
    Message* m = returns_.exchange(nullptr, std::memory_order_seq_cst);
    while (m != nullptr) {
        Message* next = MessageAccess::next(*m);
        --outstanding_;
        if (!closed_ && free_.size() < max_idle_ && make_room_locked()) {
            MessageAccess::next(*m) = nullptr;
            free_.push_back(idle_entry(m));
        } else {
            MessageAccess::next(*m) = surplus;
            surplus = m;
        }
        m = next;
    }
    std::reverse(free_.begin() + static_cast<std::ptrdiff_t>(kept_from), free_.end());
    // Whoever drained (a returner's call, or the engine taking read targets), a starved engine
    // must hear that messages are back: otherwise its starved channels wait for a return that
    // may never come.
    if (starved_ && !free_.empty()) {
        starved_ = false;
        if (refill_hook_) {
            refill_hook_();
        }
    }
}

std::uint64_t MessagePool::wanted_locked() const noexcept {
    if (starved_ && free_.empty()) {
        return 1;  // the engine waits for any message at all
    }
    // Past the room left under max_idle_, returns are surplus: call to free them promptly, so a
    // burst of returns is not kept beyond the pool's maximum.
    std::uint64_t wanted = free_.size() < max_idle_ ? max_idle_ - free_.size() + 1 : 1;
    if (waiting_ != 0 && free_.size() < wake_level_locked()) {
        wanted = std::min<std::uint64_t>(wanted, wake_level_locked() - free_.size());
    }
    return wanted;
}

void MessagePool::settle_locked() noexcept {
    const std::uint64_t wanted = wanted_locked();
    const std::uint64_t next = (closed_ ? closed_flag : 0) | (alarm_bit - std::min(wanted, returns_batch));
    std::uint64_t old = tally_.load(std::memory_order_relaxed);
    while (!tally_.compare_exchange_weak(old, next, std::memory_order_seq_cst, std::memory_order_relaxed)) {
    }
    const std::uint64_t count = old & count_mask;
    const std::uint64_t added = count - tally_base_;
    returned_ += added;
    if ((old & closed_flag) != 0) {
        callers_ += (old & adds_mask) / one_add;  // while closed, every returner calls
    } else if (tally_base_ < alarm_bit && count >= alarm_bit) {
        ++callers_;  // the one return that crossed the alarm
    }
    tally_base_ = next & count_mask;
}

void MessagePool::drain_and_arm_locked(Message*& surplus) noexcept {
    // A message pushed before the alarm was armed, but counted after, would not be drained by the
    // call it triggers... unless we drain after arming. Push-then-count on one side and
    // arm-then-look on the other (all sequentially consistent) mean one of us sees the other.
    do {
        drain_locked(surplus);
        settle_locked();
    } while (returns_.load(std::memory_order_seq_cst) != nullptr);
}

bool MessagePool::make_room_locked() noexcept {
    if (free_.size() < free_.capacity()) {
        return true;
    }
    try {
        free_.reserve(std::max<std::size_t>(16, 2 * free_.capacity()));  // the pool's high-water mark grew
        return true;
    } catch (const std::bad_alloc&) {
        return false;  // out of memory: the message is freed instead of kept
    }
}

bool MessagePool::finished_locked() const noexcept {
    return closed_ && returned_ == handed_ && callers_ == 0;
}

void MessagePool::announce_locked() noexcept {
    if (free_.empty()) {
        return;
    }
    if (waiting_ != 0 && free_.size() >= wake_level_locked()) {
        returned_cv_.notify_one();
    }
}

void MessagePool::free_surplus(Message* surplus, MessagePool* finished) noexcept {
    while (surplus != nullptr) {
        Message* m = surplus;
        surplus = MessageAccess::next(*m);
        delete m;
    }
    delete finished;
}

void MessagePool::set_refill_hook(std::function<void()> hook) {
    // The old hook dies after unlocking: what it captured may hold one of our messages.
    {
        const std::lock_guard lock{mutex_};
        refill_hook_.swap(hook);
    }
}

std::size_t MessagePool::idle() {
    return counts().idle;
}

std::size_t MessagePool::outstanding() {
    return counts().outstanding;
}

int MessagePool::waiting() const {
    const std::lock_guard lock{mutex_};
    return waiting_;
}

MessagePool::Counts MessagePool::counts() {
    Message* surplus = nullptr;
    Counts now{};
    {
        const std::lock_guard lock{mutex_};
        drain_and_arm_locked(surplus);
        now = {free_.size(), outstanding_};
    }
    free_surplus(surplus, nullptr);
    return now;
}

void MessagePool::close() noexcept {
    std::vector<Idle> idle_list;
    Message* surplus = nullptr;
    bool delete_now = false;
    std::function<void()> hook;  // destroyed after unlocking, like the idle messages
    {
        const std::lock_guard lock{mutex_};
        closed_ = true;
        returned_cv_.notify_all();
        hook.swap(refill_hook_);
        settle_locked();  // raises the closed flag: from now on every returner calls
        drain_locked(surplus);
        idle_list.swap(free_);
        delete_now = finished_locked();
    }
    for (const Idle& idle : idle_list) {
        delete idle.msg;
    }
    free_surplus(surplus, delete_now ? this : nullptr);
}

}  // namespace tofu::detail

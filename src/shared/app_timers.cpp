#include "shared/app_timers.hpp"

#include <algorithm>
#include <new>
#include <utility>

#include "message/message_access.hpp"

namespace tofu::detail {

AppTimers::~AppTimers() {
    MessageQueue dropped;  // released after the lock, back to their pool
    close(dropped);
}

AppTimers::Set AppTimers::set(MessagePtr& msg, Clock::time_point when) {
    const std::lock_guard lock{mutex_};
    if (closed_) {
        return {};
    }
    // Room first: nothing below may throw once the message is taken.
    if (heap_.size() == heap_.capacity()) {
        heap_.reserve(std::max<std::size_t>(64, 2 * heap_.capacity()));
    }
    std::uint32_t slot = free_;
    if (slot == no_slot) {
        if (slots_.size() >= no_slot - 1) {
            throw std::bad_alloc{};  // ids have room for 2^32 - 2 slots
        }
        slots_.emplace_back();
        slot = static_cast<std::uint32_t>(slots_.size() - 1);
    } else {
        free_ = slots_[slot].place;
    }
    Slot& s = slots_[slot];
    s.msg = msg.release();
    s.when = when;
    s.order = next_order_++;
    heap_.push_back(slot);
    s.place = static_cast<std::uint32_t>(heap_.size() - 1);
    sift_up(s.place);
    const bool earliest = heap_.front() == slot;
    if (earliest) {
        publish_earliest();
    }
    return {(Id{s.generation} << 32U) | (Id{slot} + 1), earliest};
}

MessagePtr AppTimers::cancel(Id id, const void* group) noexcept {
    const Id low = id & 0xFFFF'FFFFU;
    if (low == 0) {
        return {};
    }
    const auto slot = static_cast<std::uint32_t>(low - 1);
    const auto generation = static_cast<std::uint32_t>(id >> 32U);
    const std::lock_guard lock{mutex_};
    if (slot >= slots_.size()) {
        return {};
    }
    const Slot& s = slots_[slot];
    if (s.msg == nullptr || s.generation != generation || MessageAccess::group_tag(*s.msg) != group) {
        return {};
    }
    const bool was_earliest = heap_.front() == slot;
    MessageQueue out;
    remove(slot, out);
    if (was_earliest) {
        publish_earliest();  // later: the engine may wake for nothing once, never miss one
    }
    return out.pop_front();  // released by the caller, after the lock
}

void AppTimers::take_due(Clock::time_point now, MessageQueue& due) noexcept {
    const std::lock_guard lock{mutex_};
    while (!heap_.empty() && slots_[heap_.front()].when <= now) {
        remove(heap_.front(), due);
    }
    publish_earliest();
}

void AppTimers::drop_group(const void* group, MessageQueue& dropped) noexcept {
    const std::lock_guard lock{mutex_};
    std::size_t kept = 0;
    for (const std::uint32_t slot : heap_) {
        Slot& s = slots_[slot];
        if (MessageAccess::group_tag(*s.msg) == group) {
            dropped.push_back_raw(std::exchange(s.msg, nullptr));
            free_slot(slot);
        } else {
            heap_[kept++] = slot;
        }
    }
    if (kept == heap_.size()) {
        return;
    }
    heap_.resize(kept);
    for (std::size_t place = 0; place < kept; ++place) {
        slots_[heap_[place]].place = static_cast<std::uint32_t>(place);
    }
    for (std::size_t place = kept / 2; place-- > 0;) {
        sift_down(place);
    }
    publish_earliest();
}

void AppTimers::close(MessageQueue& dropped) noexcept {
    const std::lock_guard lock{mutex_};
    closed_ = true;
    for (const std::uint32_t slot : heap_) {
        dropped.push_back_raw(std::exchange(slots_[slot].msg, nullptr));
        free_slot(slot);
    }
    heap_.clear();
    publish_earliest();
}

std::size_t AppTimers::pending() const {
    const std::lock_guard lock{mutex_};
    return heap_.size();
}

bool AppTimers::before(std::uint32_t a, std::uint32_t b) const noexcept {
    const Slot& x = slots_[a];
    const Slot& y = slots_[b];
    return x.when < y.when || (x.when == y.when && x.order < y.order);
}

void AppTimers::put_at(std::size_t place, std::uint32_t slot) noexcept {
    heap_[place] = slot;
    slots_[slot].place = static_cast<std::uint32_t>(place);
}

void AppTimers::sift_up(std::size_t place) noexcept {
    const std::uint32_t slot = heap_[place];
    while (place > 0) {
        const std::size_t parent = (place - 1) / 2;
        if (!before(slot, heap_[parent])) {
            break;
        }
        put_at(place, heap_[parent]);
        place = parent;
    }
    put_at(place, slot);
}

void AppTimers::sift_down(std::size_t place) noexcept {
    const std::uint32_t slot = heap_[place];
    const std::size_t size = heap_.size();
    for (;;) {
        std::size_t child = 2 * place + 1;
        if (child >= size) {
            break;
        }
        if (child + 1 < size && before(heap_[child + 1], heap_[child])) {
            ++child;
        }
        if (!before(heap_[child], slot)) {
            break;
        }
        put_at(place, heap_[child]);
        place = child;
    }
    put_at(place, slot);
}

void AppTimers::remove(std::uint32_t slot, MessageQueue& out) noexcept {
    const std::size_t place = slots_[slot].place;
    const std::uint32_t last = heap_.back();
    heap_.pop_back();
    if (last != slot) {
        put_at(place, last);
        sift_up(place);
        sift_down(slots_[last].place);
    }
    out.push_back_raw(std::exchange(slots_[slot].msg, nullptr));
    free_slot(slot);
}

void AppTimers::free_slot(std::uint32_t slot) noexcept {
    Slot& s = slots_[slot];
    ++s.generation;
    s.place = free_;
    free_ = slot;
}

void AppTimers::publish_earliest() noexcept {
    earliest_.store(heap_.empty() ? none_pending : slots_[heap_.front()].when.time_since_epoch().count(),
                    std::memory_order_release);
}

}  // namespace tofu::detail

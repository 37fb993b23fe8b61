// Who owns each channel number, readable from any thread without a lock. `post` checks it on the
// caller's thread; allocation (post of HelloRequest / WelcomeRequest, accept on the engine thread)
// claims a free number round-robin, so a freed number is reused as late as possible. A post counts
// itself in the slot from its check until its message is in the inbox, so the engine, closing a
// channel, can wait for those few and return their messages before it reports the close.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include <tofu/message.hpp>

namespace tofu::detail {

class ChannelOwners {
public:
    /// A slot packs the owner's group id (low 32 bits, 0 = free), flags (bits 32-34) and the
    /// number of posts under way (bits 48-63).
    using Slot = std::uint64_t;
    static constexpr Slot listener = Slot{1} << 32U;             ///< a listener: only ByeSignal may be posted
    static constexpr Slot bye_request_posted = Slot{1} << 33U;   ///< then only ByeResponse / ByeSignal
    static constexpr Slot bye_response_posted = Slot{1} << 34U;  ///< then only ByeSignal
    static constexpr Slot one_post = Slot{1} << 48U;             ///< one post between its check and its push
    static constexpr Slot posts_under_way = ~(one_post - 1U);
    /// Owner id for numbers the engine still uses after the application's channel closed.
    static constexpr std::uint32_t engine_owner = 0xFFFFFFFFU;

    /// At most `limit` numbers (1..max_channel) are taken at once.
    explicit ChannelOwners(std::uint32_t limit)
        : slots_{std::make_unique<std::atomic<Slot>[]>(max_channel + 1U)}, limit_{limit} {}

    [[nodiscard]] static std::uint32_t owner_of(Slot s) noexcept { return static_cast<std::uint32_t>(s); }

    [[nodiscard]] Slot load(std::uint16_t ch) const noexcept {
        return slots_[ch].load(std::memory_order_acquire);
    }

    /// A free number now owned by `owner` with `flags`, or 0 when the limit is reached.
    [[nodiscard]] std::uint16_t claim(std::uint32_t owner, Slot flags) noexcept {
        // Count first: the count never passes the limit, so a free slot exists for every claim
        // the count admits (at most max_channel of them).
        if (taken_.fetch_add(1, std::memory_order_acq_rel) >= limit_) {
            taken_.fetch_sub(1, std::memory_order_acq_rel);
            return 0;
        }
        for (;;) {
            const std::uint32_t n = cursor_.fetch_add(1, std::memory_order_relaxed) % max_channel + 1U;
            Slot expected = 0;
            if (slots_[n].compare_exchange_strong(expected, Slot{owner} | flags, std::memory_order_acq_rel)) {
                return static_cast<std::uint16_t>(n);
            }
        }
    }

    /// The limit `claim` keeps to.
    [[nodiscard]] std::uint32_t limit() const noexcept { return limit_; }

    /// Counts a post on `ch` in and adds `flag`, if the slot still reads `seen`; otherwise reloads
    /// `seen` and returns false (the caller checks it again). `end_post` counts the post out.
    bool begin_post(std::uint16_t ch, Slot& seen, Slot flag) noexcept {
        return slots_[ch].compare_exchange_weak(seen, (seen | flag) + one_post, std::memory_order_acq_rel,
                                                std::memory_order_acquire);
    }

    /// After the post's message is in the inbox.
    void end_post(std::uint16_t ch) noexcept { slots_[ch].fetch_sub(one_post, std::memory_order_release); }

    /// Keeps `ch` taken but out of every group's reach (engine-internal use until `release`), and
    /// returns once the posts that passed their check on `ch` have pushed their messages.
    void hand_to_engine(std::uint16_t ch) noexcept {
        Slot s = load(ch);
        while (!slots_[ch].compare_exchange_weak(s, (s & posts_under_way) | engine_owner,
                                                 std::memory_order_acq_rel, std::memory_order_acquire)) {
        }
        while ((load(ch) & posts_under_way) != 0) {
            std::this_thread::yield();  // a poster is a few instructions from its push
        }
    }

    void release(std::uint16_t ch) noexcept {
        slots_[ch].store(0, std::memory_order_release);
        taken_.fetch_sub(1, std::memory_order_acq_rel);
    }

private:
    std::unique_ptr<std::atomic<Slot>[]> slots_;
    std::uint32_t limit_;
    std::atomic<std::uint32_t> taken_{0};  ///< numbers claimed and not released
    std::atomic<std::uint32_t> cursor_{0};
};

}  // namespace tofu::detail

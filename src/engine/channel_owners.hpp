// Who owns each channel number, readable from any thread without a lock. `post` checks it on the
// caller's thread; allocation (post of HelloRequest / WelcomeRequest, accept on the engine thread)
// claims a free number round-robin, so a freed number is reused as late as possible.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include <tofu/message.hpp>

namespace tofu::detail {

class ChannelOwners {
public:
    /// A slot packs the owner's group id (low 32 bits, 0 = free) and flags.
    using Slot = std::uint64_t;
    static constexpr Slot listener = Slot{1} << 32U;             ///< a listener: only ByeSignal may be posted
    static constexpr Slot bye_request_posted = Slot{1} << 33U;   ///< then only ByeResponse / ByeSignal
    static constexpr Slot bye_response_posted = Slot{1} << 34U;  ///< then only ByeSignal
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

    /// Adds `flag` if `owner` still owns `ch`; false otherwise.
    bool add_flag(std::uint16_t ch, std::uint32_t owner, Slot flag) noexcept {
        Slot s = load(ch);
        while (owner_of(s) == owner) {
            if (slots_[ch].compare_exchange_weak(s, s | flag, std::memory_order_acq_rel)) {
                return true;
            }
        }
        return false;
    }

    /// Keeps `ch` taken but out of every group's reach (engine-internal use until `release`).
    void hand_to_engine(std::uint16_t ch) noexcept {
        slots_[ch].store(engine_owner, std::memory_order_release);
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

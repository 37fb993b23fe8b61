// Triggers: the only language the reactor speaks to a poller backend. A backend translates them
// to and from one OS mechanism; the reactor never sees an OS-specific flag.
#pragma once

#include <cstdint>

namespace tofu::detail {

/// What a channel waits for (interest) or what happened to it (fired).
enum class Trigger : std::uint8_t {
    notify = 1U << 0U,   ///< the engine's notifier was signalled
    accept = 1U << 1U,   ///< a listener has a connection to accept
    connect = 1U << 2U,  ///< a non-blocking connect finished (either way)
    send = 1U << 3U,     ///< the socket can take more bytes
    recv = 1U << 4U,     ///< bytes (or end of stream) to read
    pool = 1U << 5U,     ///< waiting for messages to come back to the pool (engine-level)
    err = 1U << 6U,      ///< the socket has an error or hung up
    timeout = 1U << 7U,  ///< a deadline passed (engine-level)
};

/// A set of triggers.
class Triggers {
public:
    constexpr Triggers() noexcept = default;
    constexpr Triggers(Trigger t) noexcept
        : bits_{static_cast<std::uint8_t>(t)} {}  // NOLINT: implicit by design

    [[nodiscard]] constexpr bool has(Trigger t) const noexcept {
        return (bits_ & static_cast<std::uint8_t>(t)) != 0;
    }
    [[nodiscard]] constexpr bool any_of(Triggers ts) const noexcept { return (bits_ & ts.bits_) != 0; }
    [[nodiscard]] constexpr bool empty() const noexcept { return bits_ == 0; }
    [[nodiscard]] constexpr std::uint8_t bits() const noexcept { return bits_; }
    [[nodiscard]] static constexpr Triggers from_bits(std::uint8_t bits) noexcept {
        Triggers t;
        t.bits_ = bits;
        return t;
    }

    constexpr Triggers& operator|=(Triggers o) noexcept {
        bits_ = static_cast<std::uint8_t>(bits_ | o.bits_);
        return *this;
    }
    constexpr Triggers& operator&=(Triggers o) noexcept {
        bits_ = static_cast<std::uint8_t>(bits_ & o.bits_);
        return *this;
    }
    constexpr Triggers& remove(Triggers o) noexcept {
        bits_ = static_cast<std::uint8_t>(bits_ & ~o.bits_);
        return *this;
    }
    friend constexpr Triggers operator|(Triggers a, Triggers b) noexcept { return a |= b; }
    friend constexpr Triggers operator&(Triggers a, Triggers b) noexcept { return a &= b; }
    friend constexpr bool operator==(Triggers, Triggers) noexcept = default;

private:
    std::uint8_t bits_ = 0;
};

constexpr Triggers operator|(Trigger a, Trigger b) noexcept {
    return Triggers{a} | Triggers{b};
}

/// Triggers an OS readiness mechanism reports as "readable" and "writable".
inline constexpr Triggers read_triggers = Trigger::notify | Trigger::accept | Trigger::recv;
inline constexpr Triggers write_triggers = Trigger::connect | Trigger::send;

/// One event out of a poller: the registered token and what fired.
struct PollEvent {
    std::uint32_t token = 0;
    Triggers fired;
    /// The socket's error when the backend was told it with the event (kqueue's EV_EOF), else 0.
    /// It may be the only record of it: reading SO_ERROR clears it, and an emulation (libkqueue)
    /// reads it to fill the event.
    int os_error = 0;
};

}  // namespace tofu::detail

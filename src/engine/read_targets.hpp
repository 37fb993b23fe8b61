// The pool messages the loop keeps at hand to decode into: taken from the pool in batches (one
// lock, not one per message), topped up by messages the engine has just written (still in this
// thread's cache), given back in batches. One is kept back for the next `pool_empty` report, so
// that a pool running dry is reported without allocating.
#pragma once

#include <cstddef>
#include <cstdint>

#include <tofu/message.hpp>

#include "shared/message_queue.hpp"

namespace tofu::detail {

class EngineState;
struct Connection;

class ReadTargets {
public:
    explicit ReadTargets(EngineState& engine);

    /// Takes read targets for `ch` from the pool in one batch, enough for a read of up to `limit`
    /// bytes; returns how many are at hand.
    std::size_t take(const Connection& ch, std::size_t limit);
    /// One message to decode into: a spare, an idle pool message, or a new one while the pool is
    /// below its maximum; null when the pool is dry (its refill hook is then armed).
    [[nodiscard]] MessagePtr next();
    /// A message the engine wrote: a spare for the next reads if it is the pool's, else freed.
    void recycle(MessagePtr msg);
    /// Returns all spares but the newest `keep` to the pool, in one batch.
    void return_spares(std::size_t keep);
    /// Spares that stay from one turn to the next.
    [[nodiscard]] std::size_t kept() const noexcept { return kept_; }
    /// Keeps a spare back for the next `pool_empty` report, if none is kept yet.
    void keep_report_spare();
    /// The `pool_empty` report for a starving channel, from the spare kept back when there is one.
    [[nodiscard]] MessagePtr pool_empty_report(std::uint16_t channel);

private:
    EngineState& engine_;
    /// Pool messages written by this engine (and read targets left over): reused for reading
    /// without the pool's lock. A turn keeps `kept_` of them and returns the rest in one batch;
    /// all go back before the loop sleeps.
    MessageQueue spares_;
    const std::size_t kept_;
    /// One message kept back from the spares for the next `pool_empty` report.
    MessagePtr report_spare_;
};

}  // namespace tofu::detail

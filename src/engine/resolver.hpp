// Host names looked up off the engine thread, for connects and listeners alike: getaddrinfo may
// take seconds (a slow or dead DNS server), and the engine thread serves every channel. A lookup
// runs on one of a few lookup threads (at most `max_lookup_threads`; a lookup waits for a free one
// meanwhile, a connect's timeout running); its result comes back to the engine thread in a list the
// loop takes (Loop::take_lookups), with a wake-up (`EngineState::wake`).
//
// The lookup threads are detached and share only `Shared` with the engine, held by shared_ptr:
// destroying the engine never waits for a lookup stuck in the resolver, and a lookup that returns
// after the engine is gone finds nobody to tell (its result is dropped) and touches nothing freed.
// A thread ends when no lookup waits, so an engine that looks nothing up has none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/socket.hpp"

namespace tofu::detail {

class EngineState;

class Resolver {
public:
    /// The most lookups under way at once, each on a thread of its own.
    static constexpr std::size_t max_lookup_threads = 4;

    /// A finished lookup, for the channel that asked (its number and serial: a channel that closed
    /// meanwhile, or a new one under the same number, does not take it).
    struct Done {
        std::uint16_t channel = 0;
        std::uint32_t serial = 0;
        LookupResult result;
    };

    /// Finished lookups wake `engine`.
    explicit Resolver(EngineState& engine);
    /// Lets go of the lookups under way and waiting (their results are dropped); never waits.
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;
    Resolver(Resolver&&) = delete;
    Resolver& operator=(Resolver&&) = delete;

    /// Looks `host` up for channel `channel` (its `serial`) on a lookup thread; `passive` for a
    /// listener's address. When no thread can be started and none runs, the lookup fails at once
    /// (`try_later_status(passive)`, taken as any).
    void start(std::uint16_t channel, std::uint32_t serial, std::string host, std::uint16_t port,
               bool passive);
    /// True when finished lookups wait to be taken. Read before the engine sleeps: a lookup that
    /// finishes after this read wakes it.
    [[nodiscard]] bool has_done() const noexcept;
    /// Moves the finished lookups, oldest first, to `out` (engine thread).
    void take_done(std::vector<Done>& out);

private:
    struct Shared;
    /// A lookup thread: looks up what waits until nothing does.
    static void serve(const std::shared_ptr<Shared>& shared) noexcept;

    std::shared_ptr<Shared> shared_;
};

}  // namespace tofu::detail

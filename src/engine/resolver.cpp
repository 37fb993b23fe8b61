#include "engine/resolver.hpp"

#include <atomic>
#include <deque>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "shared/engine_state.hpp"

namespace tofu::detail {

/// What the engine and its lookup threads share; it lives until the last of them lets go.
struct Resolver::Shared {
    struct Job {
        std::uint16_t channel = 0;
        std::uint32_t serial = 0;
        std::string host;
        std::uint16_t port = 0;
        bool passive = false;
    };

    std::mutex mutex;
    EngineState* engine = nullptr;  ///< null once the engine let go; guarded by mutex
    std::deque<Job> jobs;           ///< lookups waiting for a thread; guarded by mutex
    std::vector<Done> done;         ///< finished lookups for the engine; guarded by mutex
    std::size_t threads = 0;        ///< lookup threads running; guarded by mutex
    std::atomic<bool> has_done{false};
};

Resolver::Resolver(EngineState& engine) : shared_{std::make_shared<Shared>()} {
    shared_->engine = &engine;
}

Resolver::~Resolver() {
    const std::lock_guard lock{shared_->mutex};
    shared_->engine = nullptr;
    shared_->jobs.clear();
    shared_->done.clear();
}

void Resolver::start(std::uint16_t channel, std::uint32_t serial, std::string host, std::uint16_t port,
                     bool passive) {
    Shared& s = *shared_;
    const std::lock_guard lock{s.mutex};
    s.jobs.push_back(Shared::Job{channel, serial, std::move(host), port, passive});
    if (s.threads == max_lookup_threads) {
        return;  // a running thread takes it when it is done with what it looks up now
    }
    try {
        std::thread{[shared = shared_] { serve(shared); }}.detach();
        ++s.threads;  // under the lock, before the thread can take it and count itself out
    } catch (const std::system_error& e) {
        if (s.threads == 0) {
            // Nobody would ever look it up: it fails now, and may succeed when tried again.
            Shared::Job job = std::move(s.jobs.back());
            s.jobs.pop_back();
            LookupResult failed;
            failed.error.status = try_later_status(job.passive);
            failed.detail = std::string{"no thread to look the host name up: "} + e.what();
            s.done.push_back(Done{job.channel, job.serial, std::move(failed)});
            s.has_done.store(true);
        }
    }
}

bool Resolver::has_done() const noexcept {
    return shared_->has_done.load();
}

void Resolver::take_done(std::vector<Done>& out) {
    Shared& s = *shared_;
    const std::lock_guard lock{s.mutex};
    s.has_done.store(false);
    out.swap(s.done);
}

void Resolver::serve(const std::shared_ptr<Shared>& shared) noexcept {
    Shared& s = *shared;
    std::unique_lock lock{s.mutex};
    while (!s.jobs.empty()) {  // the engine letting go empties it
        Shared::Job job = std::move(s.jobs.front());
        s.jobs.pop_front();
        lock.unlock();
        LookupResult result;
        try {
            result = look_up(job.host, job.port, job.passive);  // as long as the resolver takes
        } catch (const std::exception&) {  // no memory for the words: the lookup failed all the same
            result = LookupResult{};
            result.error.status = try_later_status(job.passive);
        }
        lock.lock();
        if (s.engine == nullptr) {
            break;  // the engine is gone: nobody waits for it
        }
        try {
            s.done.push_back(Done{job.channel, job.serial, std::move(result)});
        } catch (const std::exception&) {
            continue;  // no memory to hand it over: a connect's timeout ends the wait (a listener's
                       // lasts until it is closed)
        }
        // Set before the wake-up reads whether the engine sleeps; the engine reads it after it
        // announced its sleep: one of the two sees the other.
        s.has_done.store(true);
        s.engine->wake();
    }
    --s.threads;
}

}  // namespace tofu::detail

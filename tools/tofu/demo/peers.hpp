// The two roles of the print-spool demo.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <tofu/tofu.hpp>

#include "demo/jobs.hpp"
#include "demo/log.hpp"

namespace tofu::cli::demo {

/// The spool server: listens without knowing its workers, hands each worker that says hello a
/// job in its page description language, one job per channel, and checks what the worker reports
/// when it says goodbye.
class SpoolServer {
public:
    SpoolServer(Ampe& engine, std::vector<Job> jobs, Log& log);

    /// Listens on `where`; returns the address clients connect to (with the real TCP port).
    /// Throws `tofu::Error` when listening fails.
    Address listen(const Address& where);

    /// Serves until every job was confirmed and every channel closed, or until `limit` passes.
    /// False when anything went wrong (the log says what).
    bool serve(std::chrono::steady_clock::duration limit);

    [[nodiscard]] std::size_t bytes_sent() const noexcept { return bytes_sent_; }
    [[nodiscard]] std::size_t jobs_confirmed() const noexcept { return confirmed_; }

private:
    void on_hello(MessagePtr hello);
    void send_job(std::uint16_t channel, const Job& job);
    void on_bye(MessagePtr bye);

    Ampe& engine_;
    ChannelGroupPtr group_;
    std::vector<Job> jobs_;
    std::vector<const Job*> waiting_;              ///< jobs not handed out yet
    std::map<std::uint16_t, const Job*> running_;  ///< channel -> job not yet confirmed
    std::map<std::uint16_t, std::string> open_;    ///< channel -> worker name, until it closes
    Log& log_;
    std::size_t bytes_sent_ = 0;
    std::size_t confirmed_ = 0;
};

/// A raster worker: for each job it connects, says which PDL it handles, receives the ticket and
/// the data stream, reports progress, and closes gracefully with the job's status.
struct RasterWorker {
    std::string name;
    Pdl pdl;
    std::size_t jobs;  ///< how many jobs to take, one connection each

    /// Runs every job; false when anything went wrong (the log says what).
    bool run(Ampe& engine, const Address& spool, Log& log) const;
};

}  // namespace tofu::cli::demo

// `tofu demo`: a print spool over real sockets: TCP, a Unix domain socket, then TCP with TLS.
//
// The spool server listens and does not know its workers. Each raster worker connects with a
// HelloRequest saying which page description language it handles (`PDL: PDF` or `PDL: PS`). The
// server answers with one job per channel: a multi-message stream whose message id is the job id,
// the ticket first (`JobTicket: JDF` or `PPD`), then the data, `more` on all but the last. The
// worker reports progress as Signals (`Progress: [N:M]`) and closes gracefully with a ByeRequest
// carrying the job status, the final progress, the byte count and a checksum, which the server
// checks against what it sent.
#include "demo.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <thread>
#include <vector>

#include <tofu/testing.hpp>
#include <tofu/tofu.hpp>

#if defined(TOFU_CLI_TLS)
#include "pki/throwaway_pki.hpp"
#endif
#include "demo/peers.hpp"

namespace tofu::cli {
namespace {

constexpr std::size_t job_count = 8;
constexpr std::size_t jobs_per_worker = 2;

/// Runs the spool on `where` with engines made with `spool_options` and `worker_options`.
bool run_scenario(const char* transport, const Address& where, const Options& spool_options = {},
                  const Options& worker_options = {}) {
    using Clock = std::chrono::steady_clock;
    const auto started = Clock::now();
    demo::Log log{transport};
    std::printf("\n== %s: spool server and 4 raster workers, %zu jobs ==\n", transport, job_count);

    // Two engines, as two programs would have: the spool's and the workers'.
    const std::unique_ptr<Reactor> spool_engine = Reactor::create(spool_options);
    const std::unique_ptr<Reactor> worker_engine = Reactor::create(worker_options);
    demo::SpoolServer spool{*spool_engine, demo::make_jobs(1001, job_count), log};
    const Address address = spool.listen(where);

    const std::vector<demo::RasterWorker> workers{
        {"pdf-worker-1", demo::Pdl::pdf, jobs_per_worker},
        {"ps-worker-1", demo::Pdl::ps, jobs_per_worker},
        {"pdf-worker-2", demo::Pdl::pdf, jobs_per_worker},
        {"ps-worker-2", demo::Pdl::ps, jobs_per_worker},
    };
    std::vector<char> worked(workers.size(), 0);
    std::vector<std::thread> threads;
    threads.reserve(workers.size());
    for (std::size_t i = 0; i < workers.size(); ++i) {
        threads.emplace_back([&, i] { worked[i] = workers[i].run(*worker_engine, address, log) ? 1 : 0; });
    }
    const bool served = spool.serve(std::chrono::seconds{60});
    for (std::thread& t : threads) {
        t.join();
    }

    const bool ok = served && std::ranges::all_of(worked, [](char w) { return w != 0; }) &&
                    spool.jobs_confirmed() == job_count && log.failures() == 0;
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    std::printf(
        "%s %s: %zu/%zu jobs confirmed by %zu workers, %zu bytes streamed, every checksum %s, %.2f s\n",
        ok ? "PASS" : "FAIL", transport, spool.jobs_confirmed(), job_count, workers.size(),
        spool.bytes_sent(), ok ? "matched" : "checked", seconds);
    return ok;
}

/// The spool over TLS: the spool serves a certificate for 127.0.0.1 from a CA made just now, the
/// workers trust that CA alone and check that the certificate names the address they connect to.
bool run_tls_scenario() {
#if defined(TOFU_CLI_TLS)
    pki::ThrowawayPki pki{"tofu-demo-pki"};
    Options worker_options{};
    worker_options.tls.ca = pki.add_ca("ca", "tofu demo CA");
    // The workers connect to 127.0.0.1, so the certificate names it as an IP SAN; a day is plenty.
    const pki::CertFiles server = pki.issue("server", "ca", "tofu demo spool", "IP:127.0.0.1", -1, 1);
    Options spool_options{};
    spool_options.tls.certificate_chain = server.cert;
    spool_options.tls.private_key = server.key;
    return run_scenario("tls", TlsServerAddress{"127.0.0.1", 0}, spool_options, worker_options);
#else
    std::printf("\n== tls: skipped: this build of tofu has no TLS (TOFU_TLS=OFF) ==\n");
    return true;
#endif
}

}  // namespace

int run_demo() {
    std::printf("tofu %s demo: a print spool over real sockets\n", version_string);
    bool ok = true;
    try {
        ok = run_scenario("tcp", TcpServerAddress{"127.0.0.1", 0}) && ok;
        if (testing::uds_supported()) {
            ok = run_scenario("uds", UdsServerAddress{testing::temp_uds_path("tofu-spool")}) && ok;
        } else {
            std::printf("\n== uds: skipped: this system cannot make Unix domain sockets ==\n");
        }
        ok = run_tls_scenario() && ok;
    } catch (const std::exception& e) {
        std::printf("FAIL: %s\n", e.what());
        ok = false;
    }
    std::printf("\n%s\n", ok ? "demo passed: every byte of every job arrived" : "demo FAILED");
    return ok ? 0 : 1;
}

}  // namespace tofu::cli

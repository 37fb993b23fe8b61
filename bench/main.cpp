// tofu-bench: tofu beside ZeroMQ, NNG and plain sockets on the same work, in one run.
//
//   tofu-bench [--quick] [--libraries tofu,tofu-spin0,tofu-asio,zeromq,nng,raw]
//              [--sizes 64,1024,...] [--transports tcp,uds,tls]
//              [--tests throughput,latency,scale,handshake]
//              [--trials N] [--processes] [--connections 1000,10000] [--json FILE] [--plot FILE.png]
//
// `side` and `scale-client` are the bodies of the helper processes the benchmark starts itself.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "report.hpp"
#include "runner.hpp"
#include "scale.hpp"
#include "secrets.hpp"

namespace tofu::bench {
namespace {

constexpr std::size_t kib = 1024;
constexpr std::size_t mib = kib * 1024;
constexpr double trial_seconds = 1.0;         // how long a measured trial lasts, about
constexpr double quick_trial_seconds = 0.15;  // the same with --quick

struct Plan {
    bool quick = false;
    std::vector<std::string> libraries = all_libraries();
    std::vector<std::size_t> sizes{64, kib, 16 * kib, 60 * kib};
    std::vector<std::string> transports{"tcp", "uds", "tls"};
    std::vector<std::string> tests{"throughput", "latency", "scale", "handshake"};
    int trials = 0;  // 0: 5, or 1 with --quick
    bool processes = false;
    std::vector<std::size_t> connections;  // empty: 1000 and 10000, or 1000 with --quick
    std::string json_path;
    std::string plot_path;
    std::size_t count = 0;  // 0: paced by the runner
};

/// The most messages a trial moves (the runner moves fewer for a slow library: see run_case).
Workload workload(Test test, std::size_t size) {
    Workload w{.size = size};
    w.count = test == Test::throughput ? std::min<std::size_t>(20'000'000, 8192 * mib / size) : 100'000;
    w.warmup = w.count / 10;
    return w;
}

bool wants(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

Transport transport_of(const std::string& net) {
    return net == "uds" ? Transport::uds : net == "tls" ? Transport::tls : Transport::tcp;
}

/// The libraries that run over `net`. Over tls: not the plain sockets (nothing to protect them
/// with), and tofu at TLS 1.2 too beside NNG (whose TLS is 1.2 only), unless named already;
/// "tofu-tls1.2" runs over tls only.
std::vector<std::string> libraries_over(const Plan& plan, const std::string& net) {
    std::vector<std::string> out;
    for (const std::string& library : plan.libraries) {
        if (net == "tls" ? library != "raw" : library != "tofu-tls1.2") {
            out.push_back(library);
        }
    }
    if (net == "tls" && wants(out, "tofu") && wants(out, "nng") && !wants(out, "tofu-tls1.2")) {
        out.insert(std::find(out.begin(), out.end(), "nng"), "tofu-tls1.2");
    }
    return out;
}

int run_plan(const Plan& plan) {
    const int trials = plan.trials > 0 ? plan.trials : plan.quick ? 1 : 5;
    const Layout layout = plan.processes ? Layout::processes : Layout::threads;
    Report report;
    if (wants(plan.transports, "tls") || wants(plan.tests, "handshake")) {
        (void)secrets();  // made now, before any side process starts: they share these
    }
    for (const Test test : {Test::throughput, Test::latency}) {
        if (!wants(plan.tests, std::string{test_name(test)})) {
            continue;
        }
        for (const std::string& net : plan.transports) {
            const Transport transport = transport_of(net);
            for (const std::size_t size : plan.sizes) {
                // A quick run checks tls at its smallest size only: it is there to see each
                // library's tls path work, and CI time is short.
                if (plan.quick && transport == Transport::tls && size != plan.sizes.front()) {
                    continue;
                }
                for (const std::string& library : libraries_over(plan, net)) {
                    std::fprintf(stderr, "tofu-bench: %s %s %zu B %s...\n",
                                 std::string{test_name(test)}.c_str(), net.c_str(), size, library.c_str());
                    Workload work = workload(test, size);
                    if (plan.count != 0) {
                        work.count = plan.count;
                        work.warmup = plan.count / 10;
                    }
                    report.cases.push_back(run_case(library, test, transport, work, layout, trials,
                                                    plan.count != 0 ? 0.0
                                                    : plan.quick    ? quick_trial_seconds
                                                                    : trial_seconds));
                }
            }
        }
    }
    if (wants(plan.tests, "handshake")) {
        for (const std::string& library : libraries_over(plan, "tls")) {
            if (library == "tofu-spin0" || library == "tofu-asio") {
                continue;  // the same handshake as "tofu"
            }
            std::fprintf(stderr, "tofu-bench: handshakes %s...\n", library.c_str());
            report.handshakes.push_back(run_handshakes(library, plan.quick ? 0.05 : 1.0, trials));
        }
    }
    if (wants(plan.tests, "scale")) {
        std::vector<std::size_t> counts = plan.connections;
        if (counts.empty()) {
            counts = plan.quick ? std::vector<std::size_t>{1000} : std::vector<std::size_t>{1000, 10000};
        }
        for (const std::size_t n : counts) {
            std::fprintf(stderr, "tofu-bench: scale %zu connections...\n", n);
            report.scale.push_back(run_scale(n, plan.quick ? 5 : 20));
        }
    }
    print_tables(std::cout, report);
    print_targets(std::cout, report);
    if (!plan.json_path.empty()) {
        std::ofstream{plan.json_path} << to_json(report) << '\n';
    }
    if (!plan.plot_path.empty()) {
        plot(report, plan.plot_path);
        std::cout << "\nChart: " << plan.plot_path << '\n';
    }
    return 0;
}

int run(int argc, char** argv) {
    CLI::App app{"tofu-bench: tofu beside ZeroMQ, NNG and plain sockets, on the same work in one run"};
    Plan plan;
    app.add_flag("--quick", plan.quick, "Small counts, one trial, 1000 connections: under a minute");
    app.add_option("--libraries", plan.libraries, "Libraries to run")
        ->delimiter(',')
        ->check(CLI::IsMember(all_libraries()));
    app.add_option("--sizes", plan.sizes, "Message sizes in bytes")
        ->delimiter(',')
        ->check(CLI::Range(1, 65535));
    app.add_option(
           "--transports", plan.transports,
           "tcp, uds, tls (tofu and NNG over TLS, ZeroMQ over CURVE; tofu at TLS 1.2 too when NNG runs)")
        ->delimiter(',')
        ->check(CLI::IsMember({"tcp", "uds", "tls"}));
    app.add_option("--tests", plan.tests,
                   "throughput, latency, scale, handshake (TLS/CURVE handshakes per second)")
        ->delimiter(',')
        ->check(CLI::IsMember({"throughput", "latency", "scale", "handshake"}));
    app.add_option("--trials", plan.trials, "Trials per case; the median is reported (default 5, --quick 1)")
        ->check(CLI::PositiveNumber);
    app.add_option("--count", plan.count,
                   "Messages per trial, fixed (default: about 1 s worth, 0.15 s with --quick)")
        ->check(CLI::PositiveNumber);
    app.add_flag("--processes", plan.processes, "Run the two sides in two processes instead of two threads");
    app.add_option("--connections", plan.connections, "Connection counts for the scale test")
        ->delimiter(',')
        ->check(CLI::Range(1, 65000));
    app.add_option("--json", plan.json_path, "Also write the results as JSON to this file");
    app.add_option("--plot", plan.plot_path, "Also draw a PNG chart (needs gnuplot) to this file");

    // The helper processes' entry points (not for users).
    CLI::App* side = app.add_subcommand("side", "")->group("");
    std::string library = "tofu";
    std::string test = "throughput";
    std::string net = "tcp";
    Endpoint at;
    Workload work;
    side->add_option("--library", library)->required();
    side->add_option("--test", test)->required();
    side->add_option("--transport", net)->required();
    side->add_option("--port", at.port);
    side->add_option("--path", at.path);
    side->add_option("--size", work.size)->required();
    side->add_option("--count", work.count)->required();
    side->add_option("--warmup", work.warmup);
    std::size_t connections = 0;
    std::size_t rounds = 0;
    CLI::App* scale_server = app.add_subcommand("scale-server", "")->group("");
    scale_server->add_option("--connections", connections)->required();
    scale_server->add_option("--rounds", rounds)->required();
    CLI::App* scale_client = app.add_subcommand("scale-client", "")->group("");
    scale_client->add_option("--port", at.port)->required();
    scale_client->add_option("--connections", connections)->required();
    scale_client->add_option("--rounds", rounds)->required();

    CLI11_PARSE(app, argc, argv);
    set_self_path(std::filesystem::read_symlink("/proc/self/exe").string());
    if (side->parsed()) {
        at.transport = transport_of(net);
        if (at.path == "-") {
            at.path.clear();
        }
        run_side(library, test == "latency" ? Test::latency : Test::throughput, at, work);
        return 0;
    }
    if (scale_server->parsed()) {
        run_scale_server(connections, rounds);
        return 0;
    }
    if (scale_client->parsed()) {
        run_scale_client(at.port, connections, rounds);
        return 0;
    }
    return run_plan(plan);
}

}  // namespace
}  // namespace tofu::bench

int main(int argc, char** argv) {
    try {
        return tofu::bench::run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tofu-bench: %s\n", e.what());
    }
    return 1;
}

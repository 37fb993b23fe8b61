#include "report.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iomanip>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <utility>

#include <sys/utsname.h>
#include <nlohmann/json.hpp>
#include <tofu/version.hpp>

namespace tofu::bench {
namespace {

std::string size_text(std::size_t bytes) {
    return bytes % 1024 == 0 ? std::to_string(bytes / 1024) + " KiB" : std::to_string(bytes) + " B";
}

/// The row of `library` for the same test, transport and size as `like`, if it ran.
const CaseResult* find_row(const Report& report, const CaseResult& like, const std::string& library) {
    for (const CaseResult& r : report.cases) {
        if (r.test == like.test && r.transport == like.transport && r.work.size == like.work.size &&
            r.library == library) {
            return &r;
        }
    }
    return nullptr;
}

std::string fixed(double value, int decimals) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(decimals) << value;
    return s.str();
}

/// `value / reference` with two decimals, or "-" when there is no reference.
std::string ratio_text(double value, const CaseResult* reference, double CaseResult::*field) {
    return reference != nullptr && reference->*field > 0 ? fixed(value / reference->*field, 2) : "-";
}

std::string machine_text() {
    std::string cpu = "unknown CPU";
    std::ifstream info{"/proc/cpuinfo"};
    for (std::string line; std::getline(info, line);) {
        if (line.starts_with("model name")) {
            cpu = line.substr(line.find(':') + 2);
            break;
        }
    }
    utsname u{};
    ::uname(&u);
    return cpu + ", " + std::to_string(std::thread::hardware_concurrency()) + " CPUs, " + u.sysname + " " +
           u.release;
}

void print_throughput(std::ostream& out, const Report& report) {
    out << "\nOne-way throughput (messages of one size, sender thread -> receiver thread)\n";
    out << std::left << std::setw(6) << "net" << std::setw(9) << "size" << std::setw(11) << "library"
        << std::right << std::setw(13) << "msgs/s" << std::setw(10) << "MB/s" << std::setw(13)
        << "CPU s/M msg" << std::setw(10) << "x tofu" << '\n';
    for (const CaseResult& r : report.cases) {
        if (r.test != Test::throughput) {
            continue;
        }
        const CaseResult* tofu = find_row(report, r, "tofu");
        out << std::left << std::setw(6) << transport_name(r.transport) << std::setw(9)
            << size_text(r.work.size) << std::setw(11) << r.library << std::right << std::setw(13)
            << fixed(r.msgs_per_s, 0) << std::setw(10) << fixed(r.mb_per_s, 1) << std::setw(13)
            << (r.cpu_per_m >= 0 ? fixed(r.cpu_per_m, 3) : "-") << std::setw(10)
            << ratio_text(r.msgs_per_s, tofu, &CaseResult::msgs_per_s) << '\n';
    }
}

void print_latency(std::ostream& out, const Report& report) {
    out << "\nRound-trip latency (one request in flight; microseconds)\n";
    out << std::left << std::setw(6) << "net" << std::setw(9) << "size" << std::setw(11) << "library"
        << std::right << std::setw(9) << "p50" << std::setw(9) << "p99" << std::setw(9) << "p99.9"
        << std::setw(13) << "CPU s/M rt" << std::setw(12) << "p50 x tofu" << '\n';
    for (const CaseResult& r : report.cases) {
        if (r.test != Test::latency) {
            continue;
        }
        const CaseResult* tofu = find_row(report, r, "tofu");
        out << std::left << std::setw(6) << transport_name(r.transport) << std::setw(9)
            << size_text(r.work.size) << std::setw(11) << r.library << std::right << std::setw(9)
            << fixed(r.p50_us, 1) << std::setw(9) << fixed(r.p99_us, 1) << std::setw(9) << fixed(r.p999_us, 1)
            << std::setw(13) << (r.cpu_per_m >= 0 ? fixed(r.cpu_per_m, 2) : "-") << std::setw(12)
            << ratio_text(r.p50_us, tofu, &CaseResult::p50_us) << '\n';
    }
}

/// What protected each library's tls rows, as its connections agreed (tofu says the version and
/// cipher suite on its Hello messages).
void print_security(std::ostream& out, const Report& report) {
    std::map<std::string, std::string> seen;
    for (const CaseResult& r : report.cases) {
        if (r.transport == Transport::tls && !r.security.empty()) {
            seen[r.library] = r.security;
        }
    }
    for (const HandshakeResult& h : report.handshakes) {
        if (!h.security.empty()) {
            seen.try_emplace(h.library, h.security);
        }
    }
    if (seen.empty()) {
        return;
    }
    out << "\nOver tls (certificates: ECDSA P-256, made at start; clients verify the server)\n";
    for (const auto& [library, security] : seen) {
        out << "  " << std::left << std::setw(13) << library << security << '\n';
    }
}

void print_handshakes(std::ostream& out, const Report& report) {
    out << "\nHandshakes per second over tls (one at a time: connect, handshake, first round trip,\n"
           "close; both ends in this process)\n";
    out << std::left << std::setw(13) << "library" << std::right << std::setw(12) << "per second"
        << std::setw(12) << "ms each" << std::setw(10) << "x tofu" << '\n';
    const HandshakeResult* tofu = nullptr;
    for (const HandshakeResult& h : report.handshakes) {
        if (h.library == "tofu") {
            tofu = &h;
        }
    }
    for (const HandshakeResult& h : report.handshakes) {
        out << std::left << std::setw(13) << h.library << std::right << std::setw(12)
            << fixed(h.per_second, 0) << std::setw(12) << fixed(1000.0 / std::max(h.per_second, 1e-9), 3)
            << std::setw(10)
            << (tofu != nullptr && tofu->per_second > 0 ? fixed(h.per_second / tofu->per_second, 2) : "-")
            << '\n';
    }
}

void print_scale(std::ostream& out, const Report& report) {
    out << "\nMany connections on one tofu engine (TCP; request/response, 1024 requests in flight)\n";
    out << std::right << std::setw(12) << "connections" << std::setw(13) << "requests/s" << std::setw(12)
        << "RSS MiB" << std::setw(14) << "peak RSS MiB" << std::setw(14) << "KiB per conn" << std::setw(13)
        << "CPU s/M req" << '\n';
    for (const ScaleResult& s : report.scale) {
        out << std::setw(12) << s.connections << std::setw(13) << fixed(s.requests_per_s, 0) << std::setw(12)
            << fixed(s.server_rss_mib, 1) << std::setw(14) << fixed(s.server_peak_rss_mib, 1) << std::setw(14)
            << fixed(s.rss_per_connection_kib, 2) << std::setw(13) << fixed(s.cpu_per_m, 2);
        if (!s.note.empty()) {
            out << "  (" << s.note << ")";
        }
        out << '\n';
    }
}

struct Target {
    std::string what;
    std::optional<bool> met;  ///< nothing when this run did not measure it
    std::string evidence;
};

/// For every transport that ran: `subject` (tofu, unless named) compared with `other` at `size` by
/// `check`.
void compare(const Report& report, std::vector<Target>& targets, Test test, std::size_t size,
             const std::string& other, const std::string& what,
             const std::function<std::pair<bool, std::string>(const CaseResult&, const CaseResult&)>& check,
             const std::string& subject = "tofu") {
    for (const Transport transport : {Transport::tcp, Transport::uds}) {
        CaseResult like;
        like.test = test;
        like.transport = transport;
        like.work.size = size;
        const CaseResult* tofu = find_row(report, like, subject);
        const CaseResult* them = find_row(report, like, other);
        Target t{std::string{transport_name(transport)} + " " + size_text(size) + ": " + what, std::nullopt,
                 ""};
        if (tofu != nullptr && them != nullptr) {
            const auto [ok, evidence] = check(*tofu, *them);
            t.met = ok;
            t.evidence = evidence;
        }
        targets.push_back(std::move(t));
    }
}

std::vector<Target> targets_of(const Report& report) {
    std::vector<Target> targets;
    const auto throughput_at_least = [](double factor) {
        return [factor](const CaseResult& tofu, const CaseResult& them) {
            const double ratio = tofu.msgs_per_s / them.msgs_per_s;
            return std::pair{ratio >= factor, "tofu/" + them.library + " = " + fixed(ratio, 2)};
        };
    };
    compare(report, targets, Test::throughput, 64, "zeromq", "throughput >= 2x ZeroMQ",
            throughput_at_least(2.0));
    compare(report, targets, Test::throughput, 1024, "zeromq", "throughput >= 1.5x ZeroMQ",
            throughput_at_least(1.5));
    for (const std::size_t size : {std::size_t{16384}, std::size_t{61440}}) {
        compare(report, targets, Test::throughput, size, "zeromq", "throughput >= ZeroMQ",
                throughput_at_least(1.0));
        compare(report, targets, Test::throughput, size, "raw", "bytes/s >= 50% of raw sockets",
                throughput_at_least(0.5));
    }
    compare(report, targets, Test::latency, 64, "zeromq", "round-trip p50 <= 0.75x ZeroMQ",
            [](const CaseResult& tofu, const CaseResult& them) {
                const double ratio = tofu.p50_us / them.p50_us;
                return std::pair{ratio <= 0.75, "tofu/zeromq p50 = " + fixed(ratio, 2)};
            });
    compare(report, targets, Test::latency, 64, "zeromq", "round-trip p99 <= ZeroMQ",
            [](const CaseResult& tofu, const CaseResult& them) {
                const double ratio = tofu.p99_us / them.p99_us;
                return std::pair{ratio <= 1.0, "tofu/zeromq p99 = " + fixed(ratio, 2)};
            });
    // The Asio receiver (tofu-asio): a round trip through an io_context costs little more than one
    // through wait_receive when neither spins (tofu-spin0).
    compare(
        report, targets, Test::latency, 64, "tofu-spin0",
        "Asio receiver round-trip p50 <= 1.3x wait_receive (receive_spin 0)",
        [](const CaseResult& asio, const CaseResult& tofu) {
            const double ratio = asio.p50_us / tofu.p50_us;
            return std::pair{ratio <= 1.3, "tofu-asio/tofu-spin0 p50 = " + fixed(ratio, 2)};
        },
        "tofu-asio");
    compare(
        report, targets, Test::latency, 64, "zeromq", "Asio receiver round-trip p50 < ZeroMQ",
        [](const CaseResult& asio, const CaseResult& them) {
            const double ratio = asio.p50_us / them.p50_us;
            return std::pair{ratio < 1.0, "tofu-asio/zeromq p50 = " + fixed(ratio, 2)};
        },
        "tofu-asio");
    Target rss{"10,000 connections: <= 16 KiB RSS per connection", std::nullopt, ""};
    for (const ScaleResult& s : report.scale) {
        if (s.connections >= 10000) {
            rss.met = s.rss_per_connection_kib <= 16.0;
            rss.evidence = fixed(s.rss_per_connection_kib, 2) + " KiB";
        }
    }
    targets.push_back(rss);

    // Over tls: tofu (TLS 1.3) against ZeroMQ with CURVE, and against tofu's own plaintext TCP.
    const auto tls_row = [&](Test test, std::size_t size, const std::string& library, Transport transport) {
        CaseResult like;
        like.test = test;
        like.transport = transport;
        like.work.size = size;
        return find_row(report, like, library);
    };
    std::vector<std::size_t> tls_sizes;
    for (const CaseResult& r : report.cases) {
        if (r.transport == Transport::tls && r.library == "tofu" &&
            std::find(tls_sizes.begin(), tls_sizes.end(), r.work.size) == tls_sizes.end()) {
            tls_sizes.push_back(r.work.size);
        }
    }
    const auto add =
        [&](const std::string& what, const CaseResult* mine, const CaseResult* theirs,
            const std::function<std::pair<bool, std::string>(const CaseResult&, const CaseResult&)>& check) {
            Target t{what, std::nullopt, ""};
            if (mine != nullptr && theirs != nullptr) {
                std::tie(t.met, t.evidence) = check(*mine, *theirs);
            }
            targets.push_back(std::move(t));
        };
    const auto over_curve = [](double factor) {
        return [factor](const CaseResult& tofu, const CaseResult& them) {
            const double ratio = tofu.msgs_per_s / them.msgs_per_s;
            return std::pair{ratio >= factor, "tofu TLS/ZeroMQ CURVE = " + fixed(ratio, 2)};
        };
    };
    add("tls 64 B: throughput >= 2x ZeroMQ CURVE", tls_row(Test::throughput, 64, "tofu", Transport::tls),
        tls_row(Test::throughput, 64, "zeromq", Transport::tls), over_curve(2.0));
    for (const std::size_t size : tls_sizes) {
        add("tls " + size_text(size) + ": throughput >= ZeroMQ CURVE",
            tls_row(Test::throughput, size, "tofu", Transport::tls),
            tls_row(Test::throughput, size, "zeromq", Transport::tls), over_curve(1.0));
    }
    for (const std::size_t size : tls_sizes) {
        add("tls " + size_text(size) + ": round-trip p50 <= ZeroMQ CURVE",
            tls_row(Test::latency, size, "tofu", Transport::tls),
            tls_row(Test::latency, size, "zeromq", Transport::tls),
            [](const CaseResult& tofu, const CaseResult& them) {
                const double ratio = tofu.p50_us / them.p50_us;
                return std::pair{ratio <= 1.0, "tofu TLS/ZeroMQ CURVE p50 = " + fixed(ratio, 2)};
            });
    }
    add("tls 16 KiB: throughput >= 50% of tofu over plain tcp",
        tls_row(Test::throughput, 16384, "tofu", Transport::tls),
        tls_row(Test::throughput, 16384, "tofu", Transport::tcp),
        [](const CaseResult& tls, const CaseResult& tcp) {
            const double ratio = tls.msgs_per_s / tcp.msgs_per_s;
            return std::pair{ratio >= 0.5, "tofu tls/tcp = " + fixed(ratio, 2)};
        });
    return targets;
}

}  // namespace

void print_tables(std::ostream& out, const Report& report) {
    out << "Machine: " << machine_text() << '\n';
    out << "tofu " << version_string << " on its " << backend_name << " backend\n";
    if (!report.cases.empty()) {
        const CaseResult& first = report.cases.front();
        out << "Layout: " << layout_name(first.layout) << "; median of " << first.trials
            << " trial(s); 'x tofu' is each library's figure divided by tofu's\n";
    }
    print_throughput(out, report);
    print_latency(out, report);
    if (!report.handshakes.empty()) {
        print_handshakes(out, report);
    }
    print_security(out, report);
    if (!report.scale.empty()) {
        print_scale(out, report);
    }
}

void print_targets(std::ostream& out, const Report& report) {
    out << "\nTargets (from this run)\n";
    for (const Target& t : targets_of(report)) {
        const char* verdict = !t.met ? "not measured" : *t.met ? "met" : "MISSED";
        out << "  " << std::left << std::setw(14) << verdict << t.what;
        if (!t.evidence.empty()) {
            out << " (" << t.evidence << ")";
        }
        out << '\n';
    }
}

std::string to_json(const Report& report) {
    nlohmann::json doc;
    doc["machine"] = machine_text();
    doc["tofu_backend"] = backend_name;
    doc["results"] = nlohmann::json::array();
    for (const CaseResult& r : report.cases) {
        nlohmann::json row{{"test", test_name(r.test)},
                           {"transport", transport_name(r.transport)},
                           {"library", r.library},
                           {"size", r.work.size},
                           {"messages", r.work.count},
                           {"warmup", r.work.warmup},
                           {"layout", layout_name(r.layout)},
                           {"trials", r.trials}};
        if (r.test == Test::throughput) {
            row["msgs_per_s"] = r.msgs_per_s;
            row["mb_per_s"] = r.mb_per_s;
        } else {
            row["p50_us"] = r.p50_us;
            row["p99_us"] = r.p99_us;
            row["p999_us"] = r.p999_us;
        }
        row["cpu_s_per_million"] = r.cpu_per_m >= 0 ? nlohmann::json(r.cpu_per_m) : nlohmann::json(nullptr);
        if (r.transport == Transport::tls) {
            row["security"] = r.security;
        }
        doc["results"].push_back(row);
    }
    doc["handshakes"] = nlohmann::json::array();
    for (const HandshakeResult& h : report.handshakes) {
        doc["handshakes"].push_back({{"library", h.library},
                                     {"per_second", h.per_second},
                                     {"count", h.count},
                                     {"trials", h.trials},
                                     {"security", h.security}});
    }
    doc["scale"] = nlohmann::json::array();
    for (const ScaleResult& s : report.scale) {
        doc["scale"].push_back({{"connections", s.connections},
                                {"requests", s.requests},
                                {"requests_per_s", s.requests_per_s},
                                {"server_rss_mib", s.server_rss_mib},
                                {"server_peak_rss_mib", s.server_peak_rss_mib},
                                {"rss_per_connection_kib", s.rss_per_connection_kib},
                                {"cpu_s_per_million", s.cpu_per_m},
                                {"note", s.note}});
    }
    doc["targets"] = nlohmann::json::array();
    for (const Target& t : targets_of(report)) {
        doc["targets"].push_back({{"target", t.what},
                                  {"met", t.met ? nlohmann::json(*t.met) : nlohmann::json(nullptr)},
                                  {"evidence", t.evidence}});
    }
    return doc.dump(2);
}

void plot(const Report& report, const std::string& png_path) {
    // One data block per library and transport: size, MB/s, p50.
    std::map<std::pair<std::string, Transport>, std::map<std::size_t, std::pair<double, double>>> series;
    for (const CaseResult& r : report.cases) {
        auto& point = series[{r.library, r.transport}][r.work.size];
        (r.test == Test::throughput ? point.first : point.second) =
            r.test == Test::throughput ? r.mb_per_s : r.p50_us;
    }
    std::ostringstream script;
    script << "set terminal pngcairo size 1400,560 font 'sans,10'\n"
           << "set output '" << png_path << "'\n"
           << "set multiplot layout 1,2 title 'tofu-bench: " << machine_text() << "'\n"
           << "set logscale x 2\nset grid\nset key top left\nset xlabel 'message size (bytes)'\n";
    std::string plots_throughput;
    std::string plots_latency;
    int block = 0;
    for (const auto& entry : series) {
        const std::pair<std::string, Transport>& key = entry.first;  // (a lambda cannot capture a binding)
        const auto& points = entry.second;
        script << "$D" << block << " << EOD\n";
        for (const auto& [size, values] : points) {
            script << size << ' ' << values.first << ' ' << values.second << '\n';
        }
        script << "EOD\n";
        // One plot clause of column `column` of this block (0 values are left out).
        const auto clause = [&](int column) {
            std::ostringstream c;
            c << (block == 0 ? "" : ", ") << "$D" << block << " using 1:($" << column << ">0?$" << column
              << ":1/0) with linespoints "
              << (key.second == Transport::tcp   ? "dt 1"
                  : key.second == Transport::uds ? "dt 2"
                                                 : "dt 3")
              << " title '" << key.first << ' ' << transport_name(key.second) << "'";
            return c.str();
        };
        plots_throughput += clause(2);
        plots_latency += clause(3);
        ++block;
    }
    script << "set title 'one-way throughput (higher is better)'\nset ylabel 'MB/s'\nset logscale y 10\n"
           << "plot " << plots_throughput << '\n'
           << "set title 'round-trip p50 (lower is better)'\nset ylabel 'microseconds'\n"
           << "plot " << plots_latency << '\n'
           << "unset multiplot\n";
    FILE* gnuplot = ::popen("gnuplot", "w");
    if (gnuplot == nullptr) {
        throw std::runtime_error("plot: cannot start gnuplot (install gnuplot-nox)");
    }
    const std::string text = script.str();
    std::fwrite(text.data(), 1, text.size(), gnuplot);
    if (const int status = ::pclose(gnuplot); status != 0) {
        throw std::runtime_error("plot: gnuplot failed (exit status " + std::to_string(status) +
                                 "); is gnuplot-nox installed?");
    }
}

}  // namespace tofu::bench

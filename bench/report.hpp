// What the benchmark prints: the tables with each library's ratio to tofu, the targets, JSON and a
// gnuplot chart.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "runner.hpp"
#include "scale.hpp"

namespace tofu::bench {

struct Report {
    std::vector<CaseResult> cases;
    std::vector<ScaleResult> scale;
    std::vector<HandshakeResult> handshakes;
};

/// The readable tables: throughput, latency, handshakes, scale.
void print_tables(std::ostream& out, const Report& report);

/// The targets checked against this run's numbers ("met", "missed", or "not measured").
void print_targets(std::ostream& out, const Report& report);

/// Everything as one JSON document, with the machine it ran on.
[[nodiscard]] std::string to_json(const Report& report);

/// A PNG chart of throughput and round-trip p50 by size, drawn by gnuplot. Throws when gnuplot
/// is missing or fails.
void plot(const Report& report, const std::string& png_path);

}  // namespace tofu::bench

// Many connections on one engine: a tofu server engine in this process answers requests from
// `connections` channels opened by a client engine in a child process (`tofu-bench scale-client`),
// so each process's descriptors and memory are its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tofu::bench {

struct ScaleResult {
    std::size_t connections = 0;
    std::size_t requests = 0;           ///< answered in the measured part
    double requests_per_s = 0;          ///< aggregate, all connections
    double server_rss_mib = 0;          ///< resident set of the server process with every connection open
    double server_peak_rss_mib = 0;     ///< its high-water mark over the whole run
    double rss_per_connection_kib = 0;  ///< server: (RSS connected - RSS before) / connections
    double cpu_per_m = 0;               ///< server process CPU seconds per million requests
    std::string note;                   ///< why fewer connections ran than asked, if so
};

/// Runs the scale test over TCP loopback, `rounds` requests per connection, in two fresh processes
/// (`tofu-bench scale-server`, which starts `tofu-bench scale-client`), so that no earlier test's
/// memory hides in the server's resident set. Throws on failure.
[[nodiscard]] ScaleResult run_scale(std::size_t connections, std::size_t rounds);

/// The body of the server process: runs the test and prints one line, "scale <fields>".
void run_scale_server(std::size_t connections, std::size_t rounds);

/// The body of the client process: connects `connections` times to 127.0.0.1:`port`, prints
/// "connected", then keeps a window of requests in flight over all channels until `rounds` per
/// connection were answered, and prints "result <seconds> <requests>".
void run_scale_client(std::uint16_t port, std::size_t connections, std::size_t rounds);

}  // namespace tofu::bench

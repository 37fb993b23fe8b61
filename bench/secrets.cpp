#include "secrets.hpp"

#include <unistd.h>
#include <zmq.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include "pki/throwaway_pki.hpp"

namespace tofu::bench {
namespace {

constexpr const char* env_name = "TOFU_BENCH_SECRETS";

void check(bool ok, const char* what) {
    if (!ok) {
        throw std::runtime_error(std::string{"bench secrets: "} + what);
    }
}

std::pair<std::string, std::string> curve_pair() {
    std::array<char, 41> pub{};
    std::array<char, 41> sec{};
    check(zmq_curve_keypair(pub.data(), sec.data()) == 0, "zmq_curve_keypair (libzmq without CURVE?)");
    return {pub.data(), sec.data()};
}

std::string read_line(const std::string& path) {
    std::ifstream in{path};
    std::string line;
    check(static_cast<bool>(std::getline(in, line)), "cannot read a CURVE key file");
    return line;
}

/// The certificate files' names in `dir`.
Secrets layout(const std::string& dir) {
    Secrets s;
    s.dir = dir;
    s.ca = dir + "/ca.crt";
    s.cert = dir + "/server.crt";
    s.key = dir + "/server.key";
    return s;
}

Secrets make() {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): made at start, before any thread uses the environment
    if (const char* dir = std::getenv(env_name); dir != nullptr && *dir != '\0') {
        Secrets s = layout(dir);
        s.curve_server_public = read_line(s.dir + "/curve-server.pub");
        s.curve_server_secret = read_line(s.dir + "/curve-server.key");
        s.curve_client_public = read_line(s.dir + "/curve-client.pub");
        s.curve_client_secret = read_line(s.dir + "/curve-client.key");
        return s;
    }
    // Lives until exit, when it removes the directory: only the maker removes it, a side process
    // found it through the environment.
    static pki::ThrowawayPki files{"tofu-bench-keys"};
    Secrets s = layout(files.dir());
    s.ca = files.add_ca("ca", "tofu-bench CA");
    // DNS:localhost too: NNG's mbedTLS 2.28 matches DNS names only, not IP SANs.
    const pki::CertFiles server =
        files.issue("server", "ca", "tofu-bench server", "DNS:localhost,IP:127.0.0.1");
    s.cert = server.cert;
    s.key = server.key;
    std::tie(s.curve_server_public, s.curve_server_secret) = curve_pair();
    std::tie(s.curve_client_public, s.curve_client_secret) = curve_pair();
    std::ofstream{s.dir + "/curve-server.pub"} << s.curve_server_public << '\n';
    std::ofstream{s.dir + "/curve-server.key"} << s.curve_server_secret << '\n';
    std::ofstream{s.dir + "/curve-client.pub"} << s.curve_client_public << '\n';
    std::ofstream{s.dir + "/curve-client.key"} << s.curve_client_secret << '\n';
    // The side processes use the same keys. NOLINTNEXTLINE(concurrency-mt-unsafe): as getenv above
    ::setenv(env_name, s.dir.c_str(), 1);
    return s;
}

}  // namespace

const Secrets& secrets() {
    static const Secrets s = make();
    return s;
}

}  // namespace tofu::bench

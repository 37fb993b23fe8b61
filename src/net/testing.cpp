// Test helpers of the public API: a free TCP port, unique UDS names.
#include <tofu/testing.hpp>

#include <atomic>
#include <cstdlib>
#include <random>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tofu/address.hpp>
#include <tofu/status.hpp>

namespace tofu::testing {
namespace {

/// pid + a per-process counter + a random tag: unique across processes, calls and reruns.
std::string unique_suffix() {
    static std::atomic<unsigned> counter{0};
    static const unsigned tag = std::random_device{}();
    std::string suffix = std::to_string(::getpid());
    suffix.append("-")
        .append(std::to_string(counter.fetch_add(1)))
        .append("-")
        .append(std::to_string(tag % 100000U));
    return suffix;
}

}  // namespace

std::uint16_t find_free_tcp_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw Error{AmpeStatus::allocation_failed, "find_free_tcp_port: socket"};
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    ::close(fd);
    if (!ok) {
        throw Error{AmpeStatus::listen_failed, "find_free_tcp_port: bind to 127.0.0.1:0"};
    }
    return ntohs(a.sin_port);
}

/// `<lead><prefix>-<unique><tail>`. Built with append: GCC 12 warns falsely (-Wrestrict) on
/// `"literal" + std::string` at -O3.
std::string unique_name(std::string_view lead, std::string_view prefix, std::string_view tail) {
    std::string name{lead};
    name.append(prefix).append("-").append(unique_suffix()).append(tail);
    return name;
}

std::string temp_uds_path(std::string_view prefix) {
    const char* dir = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe): read-only use
    std::string lead = dir != nullptr && *dir != '\0' ? dir : "/tmp";
    lead.append("/");
    std::string path = unique_name(lead, prefix, ".sock");
    if (path.size() > max_uds_path_length) {
        path = unique_name("/tmp/", prefix, ".sock");  // TMPDIR is too long for sockaddr_un
    }
    return path;
}

std::string temp_abstract_name(std::string_view prefix) {
    return unique_name("@", prefix, "");
}

}  // namespace tofu::testing

// Test helpers of the public API: a free TCP port, unique UDS names.
#include <tofu/testing.hpp>

#include <atomic>
#include <cstdlib>
#include <random>
#include <string>

#if defined(_WIN32)
#include <process.h>

#include <filesystem>
#endif

#include <tofu/address.hpp>
#include <tofu/status.hpp>

#include "net/native_socket.hpp"

namespace tofu::testing {
namespace {

/// pid + a per-process counter + a random tag: unique across processes, calls and reruns.
std::string unique_suffix() {
    static std::atomic<unsigned> counter{0};
    static const unsigned tag = std::random_device{}();
#if defined(_WIN32)
    std::string suffix = std::to_string(::_getpid());
#else
    std::string suffix = std::to_string(::getpid());
#endif
    suffix.append("-")
        .append(std::to_string(counter.fetch_add(1)))
        .append("-")
        .append(std::to_string(tag % 100000U));
    return suffix;
}

}  // namespace

std::uint16_t find_free_tcp_port() {
    detail::native::start_sockets();
    const auto fd = static_cast<int>(::socket(AF_INET, SOCK_STREAM, 0));
    if (fd < 0) {
        throw Error{AmpeStatus::allocation_failed, "find_free_tcp_port: socket"};
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    detail::native::socklen len = sizeof a;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    detail::native::close_socket(fd);
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
#if defined(_WIN32)
    std::error_code ignored;
    std::string lead = std::filesystem::temp_directory_path(ignored).string();  // %TMP%, with a '\\'
    const std::string_view fallback = "C:\\Windows\\Temp\\";
#else
    const char* dir = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe): read-only use
    std::string lead = dir != nullptr && *dir != '\0' ? dir : "/tmp";
    lead.append("/");
    const std::string_view fallback = "/tmp/";
#endif
    std::string path = unique_name(lead, prefix, ".sock");
    if (path.size() > max_uds_path_length) {
        path = unique_name(fallback, prefix, ".sock");  // the temporary directory is too long for sockaddr_un
    }
    return path;
}

bool uds_supported() {
    static const bool supported = [] {
        detail::native::start_sockets();
        const auto fd = static_cast<int>(::socket(AF_UNIX, SOCK_STREAM, 0));
        if (fd < 0) {
            return false;
        }
        detail::native::close_socket(fd);
        return true;
    }();
    return supported;
}

std::string temp_abstract_name(std::string_view prefix) {
    return unique_name("@", prefix, "");
}

}  // namespace tofu::testing

// net/socket_os.hpp on Windows (Winsock 2, Windows 10 1803 and later for AF_UNIX). A UDS socket
// file is a reparse point, and Winsock's errors are Windows error codes.
#include "net/socket_os.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <tofu/status.hpp>

#include "net/native_socket.hpp"
#include "net/socket.hpp"

#include <mstcpip.h>  // SIO_KEEPALIVE_VALS; after native_socket.hpp, which brings winsock2.h

namespace tofu::detail {

int native::start_sockets() noexcept {
    // Once per process, never undone: sockets may live until exit, and exit releases Winsock.
    static const int result = [] {
        WSADATA data{};
        return ::WSAStartup(MAKEWORD(2, 2), &data);
    }();
    return result;
}

namespace os {
namespace {

// Winsock's names for the TCP options of Windows 10 1709 and later, where mingw-w64 lacks them.
#if !defined(TCP_KEEPIDLE)
constexpr int TCP_KEEPIDLE = 3;  // NOLINT(readability-identifier-naming): the OS's name
#endif
#if !defined(TCP_KEEPCNT)
constexpr int TCP_KEEPCNT = 16;  // NOLINT(readability-identifier-naming)
#endif
#if !defined(TCP_KEEPINTVL)
constexpr int TCP_KEEPINTVL = 17;  // NOLINT(readability-identifier-naming)
#endif

/// Makes a socket non-blocking and keeps it out of child processes.
bool make_private_and_nonblocking(const Socket& s) noexcept {
    u_long on = 1;
    return ::ioctlsocket(native::handle(s.fd()), FIONBIO, &on) == 0 &&
           ::SetHandleInformation(reinterpret_cast<HANDLE>(native::handle(s.fd())), HANDLE_FLAG_INHERIT, 0) !=
               0;
}

}  // namespace

Socket new_stream_socket(int family) noexcept {
    Socket s{static_cast<int>(::WSASocketW(family, SOCK_STREAM, 0, nullptr, 0, WSA_FLAG_NO_HANDLE_INHERIT))};
    if (s.valid() && !make_private_and_nonblocking(s)) {
        s.close();
    }
    return s;
}

SocketError accept_socket(const Socket& listener, Socket& out) noexcept {
    Socket s{static_cast<int>(::accept(native::handle(listener.fd()), nullptr, nullptr))};
    if (s.valid() && !make_private_and_nonblocking(s)) {
        return SocketError{AmpeStatus::accept_failed, native::last_error()};
    }
    out = std::move(s);
    return {};
}

bool set_dead_peer_options(const Socket& s, int idle, int interval, int probes,
                           std::chrono::milliseconds /*timeout*/) noexcept {
    if (native::set_option(s.fd(), IPPROTO_TCP, TCP_KEEPIDLE, idle) &&
        native::set_option(s.fd(), IPPROTO_TCP, TCP_KEEPINTVL, interval) &&
        native::set_option(s.fd(), IPPROTO_TCP, TCP_KEEPCNT, probes)) {
        return true;
    }
    // Windows before 10 1709, and Wine, lack those options (WSAENOPROTOOPT): SIO_KEEPALIVE_VALS
    // sets the idle time and the interval; the number of probes stays the system's.
    tcp_keepalive values{};
    values.onoff = 1;
    values.keepalivetime = static_cast<ULONG>(idle) * 1000U;
    values.keepaliveinterval = static_cast<ULONG>(interval) * 1000U;
    DWORD returned = 0;
    return ::WSAIoctl(native::handle(s.fd()), SIO_KEEPALIVE_VALS, &values, sizeof values, nullptr, 0,
                      &returned, nullptr, nullptr) == 0;
}

bool allow_quick_rebind(const Socket& /*s*/) noexcept {
    return true;
}

bool set_socket_file_mode(const char* /*path*/, std::uint32_t /*mode*/) noexcept {
    return true;
}

PathKind path_kind(const char* path) noexcept {
    const DWORD attributes = ::GetFileAttributesA(path);
    if (attributes == INVALID_FILE_ATTRIBUTES) {
        return PathKind::absent;
    }
    return (attributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0 ? PathKind::socket_file : PathKind::other;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> file_identity(const std::string& path) noexcept {
    // A socket file is a reparse point: opened as itself, not followed.
    const HANDLE h = ::CreateFileA(
        path.c_str(), FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
        OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, nullptr);
    if (h == INVALID_HANDLE_VALUE) {
        return std::nullopt;
    }
    BY_HANDLE_FILE_INFORMATION info{};
    const bool known = ::GetFileInformationByHandle(h, &info) != 0;
    ::CloseHandle(h);
    if (!known) {
        return std::nullopt;
    }
    return std::pair{std::uint64_t{info.dwVolumeSerialNumber},
                     (std::uint64_t{info.nFileIndexHigh} << 32U) | info.nFileIndexLow};
}

void remove_file(const char* path) noexcept {
    ::DeleteFileA(path);
}

std::string describe_uds_peer(const Socket& /*s*/, int peer_family) {
    if (peer_family == AF_UNIX) {
        return "uds";  // Windows does not tell who is at the other end
    }
    return {};
}

std::string error_text(int os_error) {
    // Winsock's errors are Windows error codes: FormatMessage knows them, strerror does not.
    std::array<char, 256> text{};
    const DWORD n = ::FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
                                     static_cast<DWORD>(os_error), 0, text.data(), text.size(), nullptr);
    std::string message{text.data(), n};
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r' || message.back() == '.')) {
        message.pop_back();
    }
    return message.empty() ? "Windows error " + std::to_string(os_error) : message;
}

std::string lookup_error_text(int code) {
    // getaddrinfo's results are Winsock errors here, and gai_strerror shares one buffer among threads.
    return error_text(code);
}

}  // namespace os
}  // namespace tofu::detail

// shared/notifier.hpp on Windows: a pair of loopback UDP sockets, since WSAPoll waits on sockets
// only.
#include "shared/notifier.hpp"

#include <array>
#include <cstdint>
#include <string>

#include <tofu/status.hpp>

#include "net/native_socket.hpp"
#include "net/socket.hpp"

namespace tofu::detail {
namespace {

[[noreturn]] void fail(const char* what, int os_error) {
    throw Error{AmpeStatus::notification_failed, std::string{what} + ": " + os_error_text(os_error)};
}

/// A UDP socket on 127.0.0.1 (an ephemeral port); blocking or not. Overlapped, as socket() makes
/// them: the reader is the group's readiness handle, and a duplicate of it (which keeps the
/// original's flags) must be able to join an I/O completion port, as Asio's does; Wine refuses a
/// non-overlapped one with ERROR_INVALID_PARAMETER. Blocking send and recv work on it all the same.
SOCKET open_loopback_udp(bool blocking, sockaddr_in& bound) {
    const SOCKET s = ::WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0,
                                  WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) {
        fail("notifier socket", native::last_error());
    }
    bound = {};
    bound.sin_family = AF_INET;
    bound.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int len = sizeof bound;
    u_long non_blocking = blocking ? 0 : 1;
    auto* as_sockaddr = reinterpret_cast<sockaddr*>(&bound);
    if (::bind(s, as_sockaddr, len) != 0 || ::getsockname(s, as_sockaddr, &len) != 0 ||
        ::ioctlsocket(s, FIONBIO, &non_blocking) != 0) {
        const int error = native::last_error();
        ::closesocket(s);
        fail("notifier socket", error);
    }
    return s;
}

/// Two loopback UDP sockets: the engine polls and drains the non-blocking reader; posters send
/// on the blocking writer, connected to the reader. Not one socket sending to itself: Wine then
/// refused a non-blocking send now and then (WSAEWOULDBLOCK) and went on refusing it while the
/// engine waited on that socket, so a wake-up was lost and the engine slept with work posted.
void open_udp_pair(int& read_fd, int& write_fd) {
    if (const int rc = native::start_sockets(); rc != 0) {
        fail("WSAStartup", rc);
    }
    sockaddr_in reader_address{};
    sockaddr_in writer_address{};
    const SOCKET reader = open_loopback_udp(false, reader_address);
    SOCKET writer = INVALID_SOCKET;
    try {
        writer = open_loopback_udp(true, writer_address);
    } catch (...) {
        ::closesocket(reader);
        throw;
    }
    if (::connect(writer, reinterpret_cast<const sockaddr*>(&reader_address), sizeof reader_address) != 0 ||
        ::connect(reader, reinterpret_cast<const sockaddr*>(&writer_address), sizeof writer_address) != 0) {
        const int error = native::last_error();
        ::closesocket(reader);
        ::closesocket(writer);
        fail("notifier socket", error);
    }
    read_fd = static_cast<int>(reader);
    write_fd = static_cast<int>(writer);
}

}  // namespace

Notifier::Notifier() {
    open_udp_pair(read_fd_, write_fd_);
}

Notifier::~Notifier() {
    native::close_socket(read_fd_);
    native::close_socket(write_fd_);
}

void Notifier::notify() noexcept {
    // A full socket buffer already means "wake up": a failure to add one more is fine to ignore.
    const char one = 1;
    ::send(native::handle(write_fd_), &one, 1, 0);  // blocking: it waits for the stack, not the reader
}

void Notifier::drain() noexcept {
    // One datagram per recv: read until none is left.
    std::array<std::uint64_t, 16> sink{};
    while (::recv(native::handle(read_fd_), reinterpret_cast<char*>(sink.data()), sizeof sink, 0) > 0) {
    }
}

}  // namespace tofu::detail

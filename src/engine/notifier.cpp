#include "engine/notifier.hpp"

#include <array>
#include <cstdint>
#include <string>

#include <tofu/status.hpp>

#include "net/native_socket.hpp"
#include "net/socket.hpp"

#if defined(__linux__)
#include <sys/eventfd.h>
#elif !defined(_WIN32)
#include <fcntl.h>
#endif

namespace tofu::detail {
namespace {

[[noreturn]] void fail(const char* what, int os_error) {
    throw Error{AmpeStatus::notification_failed, std::string{what} + ": " + os_error_text(os_error)};
}

#if defined(_WIN32)
/// A non-blocking UDP socket on 127.0.0.1, connected to itself: a datagram sent is one to read.
int open_self_connected_udp() {
    if (const int rc = native::start_sockets(); rc != 0) {
        fail("WSAStartup", rc);
    }
    const SOCKET s = ::WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) {
        fail("notifier socket", native::last_error());
    }
    sockaddr_in self{};
    self.sin_family = AF_INET;
    self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int len = sizeof self;
    u_long on = 1;
    auto* as_sockaddr = reinterpret_cast<sockaddr*>(&self);
    if (::bind(s, as_sockaddr, len) != 0 || ::getsockname(s, as_sockaddr, &len) != 0 ||
        ::connect(s, as_sockaddr, len) != 0 || ::ioctlsocket(s, FIONBIO, &on) != 0) {
        const int error = native::last_error();
        ::closesocket(s);
        fail("notifier socket", error);
    }
    return static_cast<int>(s);
}
#endif

}  // namespace

Notifier::Notifier() {
#if defined(__linux__)
    read_fd_ = write_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (read_fd_ < 0) {
        fail("eventfd", errno);
    }
#elif defined(_WIN32)
    read_fd_ = write_fd_ = open_self_connected_udp();
#else
    std::array<int, 2> fds{};
    if (::pipe(fds.data()) != 0) {
        fail("pipe", errno);
    }
    for (const int fd : fds) {
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    read_fd_ = fds[0];
    write_fd_ = fds[1];
#endif
}

Notifier::~Notifier() {
    native::close_socket(read_fd_);
    if (write_fd_ != read_fd_) {
        native::close_socket(write_fd_);
    }
}

void Notifier::notify() noexcept {
    // A full pipe, a saturated eventfd or a full socket buffer already means "wake up": a
    // failure to add one more is fine to ignore.
#if defined(__linux__)
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(write_fd_, &one, sizeof one);
#elif defined(_WIN32)
    const char one = 1;
    ::send(native::handle(write_fd_), &one, 1, 0);
#else
    const char one = 1;
    [[maybe_unused]] const auto n = ::write(write_fd_, &one, 1);
#endif
}

void Notifier::drain() noexcept {
    std::array<std::uint64_t, 16> sink{};
#if defined(_WIN32)
    // One datagram per recv: read until none is left.
    while (::recv(native::handle(read_fd_), reinterpret_cast<char*>(sink.data()), sizeof sink, 0) > 0) {
    }
#else
    while (::read(read_fd_, sink.data(), sizeof sink) > 0) {
#if defined(__linux__)
        break;  // one read empties an eventfd
#endif
    }
#endif
}

}  // namespace tofu::detail

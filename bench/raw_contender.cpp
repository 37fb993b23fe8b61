// "raw": the practical limit of one stream connection, plain blocking POSIX sockets (TCP with
// TCP_NODELAY, or AF_UNIX SOCK_STREAM) and no library. Each message is a 4-byte little-endian
// length and the payload. The receiver reads in 256 KiB chunks and parses frames in place; the
// throughput sender packs frames into a 64 KiB buffer and writes it when the next frame does not
// fit (a frame larger than the buffer is written straight from the payload), flushing at the end.
// Closing: the sender shuts down its write side and waits for the receiver to close first, so it
// returns only once every byte was read; the echo side returns after its last reply, which the
// kernel still delivers after close. The listener unlinks its socket file when it closes.
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "contender.hpp"

namespace tofu::bench {
namespace {

constexpr std::size_t header_size = 4;
constexpr std::size_t read_buffer_size = std::size_t{256} * 1024;
constexpr std::size_t write_buffer_size = std::size_t{64} * 1024;

#if defined(MSG_NOSIGNAL)
constexpr int send_flags = MSG_NOSIGNAL;  // a vanished peer must not raise SIGPIPE
#else
constexpr int send_flags = 0;
#endif

/// Throws with `what` and the text of the current errno.
[[noreturn]] void fail_errno(const std::string& what) {
    const int error = errno;
    fail("raw", what + ": " + std::system_category().message(error));
}

std::string describe(const Endpoint& at) {
    if (at.transport == Transport::uds) {
        return "unix:" + at.path;
    }
    return at.host + ":" + std::to_string(at.port);
}

/// Owns a file descriptor.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) noexcept : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            close();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { close(); }

    [[nodiscard]] int get() const noexcept { return fd_; }

private:
    void close() noexcept {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

    int fd_ = -1;
};

struct AddrInfoFree {
    void operator()(addrinfo* list) const noexcept { ::freeaddrinfo(list); }
};
using AddrInfoList = std::unique_ptr<addrinfo, AddrInfoFree>;

/// The first address of `at` (a TCP endpoint).
AddrInfoList resolve(const Endpoint& at) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* list = nullptr;
    const std::string port = std::to_string(at.port);
    const int rc = ::getaddrinfo(at.host.c_str(), port.c_str(), &hints, &list);
    if (rc != 0) {
        fail("raw", "getaddrinfo " + describe(at) + ": " + ::gai_strerror(rc));
    }
    return AddrInfoList{list};
}

sockaddr_un unix_address(const Endpoint& at) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (at.path.empty() || at.path.size() >= sizeof address.sun_path) {
        fail("raw", "unix socket path '" + at.path + "' is empty or too long");
    }
    std::memcpy(static_cast<char*>(address.sun_path), at.path.data(), at.path.size());
    return address;
}

/// Where SOCK_CLOEXEC or MSG_NOSIGNAL is missing: keeps `fd` out of processes started later and
/// its sends from raising SIGPIPE.
void prepare([[maybe_unused]] const Fd& fd) {
#if !defined(SOCK_CLOEXEC)
    if (::fcntl(fd.get(), F_SETFD, FD_CLOEXEC) != 0) {
        fail_errno("fcntl FD_CLOEXEC");
    }
#endif
#if !defined(MSG_NOSIGNAL) && defined(SO_NOSIGPIPE)
    const int on = 1;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on) != 0) {
        fail_errno("setsockopt SO_NOSIGPIPE");
    }
#endif
}

Fd open_socket(int family, const Endpoint& at) {
#if defined(SOCK_CLOEXEC)
    Fd fd{::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)};
#else
    Fd fd{::socket(family, SOCK_STREAM, 0)};
#endif
    if (fd.get() < 0) {
        fail_errno("socket for " + describe(at));
    }
    prepare(fd);
    return fd;
}

Fd accept_connection(const Fd& listener) {
#if defined(SOCK_CLOEXEC)
    Fd connection{::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC)};
#else
    Fd connection{::accept(listener.get(), nullptr, nullptr)};
#endif
    if (connection.get() >= 0) {
        prepare(connection);
    }
    return connection;
}

void set_no_delay(const Fd& fd) {
    const int on = 1;
    if (::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0) {
        fail_errno("setsockopt TCP_NODELAY");
    }
}

/// Removes the file of a bound AF_UNIX socket when destroyed.
struct SocketFile {
    SocketFile() = default;
    SocketFile(const SocketFile&) = delete;
    SocketFile& operator=(const SocketFile&) = delete;
    SocketFile(SocketFile&&) = delete;
    SocketFile& operator=(SocketFile&&) = delete;
    ~SocketFile() {
        if (!path.empty()) {
            ::unlink(path.c_str());
        }
    }

    std::string path;  ///< empty until bound
};

/// A listening socket for one connection; removes its socket file when it closes.
class Listener {
public:
    explicit Listener(const Endpoint& at) : at_(at) {
        if (at.transport == Transport::uds) {
            const sockaddr_un address = unix_address(at);
            fd_ = open_socket(AF_UNIX, at);
            if (::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
                fail_errno("bind " + describe(at));
            }
            socket_file_.path = at.path;
        } else {
            const AddrInfoList address = resolve(at);
            fd_ = open_socket(address->ai_family, at);
            const int on = 1;
            if (::setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
                fail_errno("setsockopt SO_REUSEADDR");
            }
            if (::bind(fd_.get(), address->ai_addr, address->ai_addrlen) != 0) {
                fail_errno("bind " + describe(at));
            }
        }
        if (::listen(fd_.get(), 1) != 0) {
            fail_errno("listen " + describe(at));
        }
    }
    Fd accept() {
        for (;;) {
            Fd connection = accept_connection(fd_);
            if (connection.get() >= 0) {
                if (at_.transport == Transport::tcp) {
                    set_no_delay(connection);
                }
                return connection;
            }
            if (errno != EINTR) {
                fail_errno("accept " + describe(at_));
            }
        }
    }

private:
    Endpoint at_;
    Fd fd_;
    SocketFile socket_file_;
};

/// Listens at `at`, calls `ready`, and returns the first connection; the listener is closed (and
/// its socket file removed) on return.
Fd accept_one(const Endpoint& at, const Ready& ready) {
    Listener listener{at};
    ready();
    return listener.accept();
}

/// Completes a blocking connect() that a signal interrupted.
void finish_interrupted_connect(const Fd& fd, const Endpoint& at) {
    pollfd entry{fd.get(), POLLOUT, 0};
    while (::poll(&entry, 1, -1) < 0) {
        if (errno != EINTR) {
            fail_errno("poll for connect " + describe(at));
        }
    }
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
        fail_errno("getsockopt SO_ERROR");
    }
    if (error != 0) {
        fail("raw", "connect " + describe(at) + ": " + std::system_category().message(error));
    }
}

void connect_to(const Fd& fd, const sockaddr* address, socklen_t length, const Endpoint& at) {
    if (::connect(fd.get(), address, length) == 0) {
        return;
    }
    if (errno != EINTR) {
        fail_errno("connect " + describe(at));
    }
    finish_interrupted_connect(fd, at);
}

Fd connect(const Endpoint& at) {
    if (at.transport == Transport::uds) {
        const sockaddr_un address = unix_address(at);
        Fd fd = open_socket(AF_UNIX, at);
        connect_to(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address, at);
        return fd;
    }
    const AddrInfoList address = resolve(at);
    Fd fd = open_socket(address->ai_family, at);
    set_no_delay(fd);
    connect_to(fd, address->ai_addr, address->ai_addrlen, at);
    return fd;
}

/// Writes all of `parts`, resuming after partial writes and signals; consumes `parts`.
void send_all(const Fd& fd, std::span<iovec> parts) {
    for (;;) {
        while (!parts.empty() && parts.front().iov_len == 0) {
            parts = parts.subspan(1);
        }
        if (parts.empty()) {
            return;
        }
        msghdr message{};
        message.msg_iov = parts.data();
        message.msg_iovlen = parts.size();
        const ssize_t sent = ::sendmsg(fd.get(), &message, send_flags);
        if (sent < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail_errno("send");
        }
        for (auto left = static_cast<std::size_t>(sent); left > 0;) {
            iovec& part = parts.front();
            const std::size_t taken = std::min(left, part.iov_len);
            part.iov_base = static_cast<std::byte*>(part.iov_base) + taken;
            part.iov_len -= taken;
            left -= taken;
            if (part.iov_len == 0) {
                parts = parts.subspan(1);
            }
        }
    }
}

void send_all(const Fd& fd, std::span<const std::byte> bytes) {
    iovec part{const_cast<std::byte*>(bytes.data()), bytes.size()};  // sendmsg only reads it
    send_all(fd, std::span{&part, 1});
}

void encode_length(std::size_t length, std::byte* out) noexcept {
    for (std::size_t i = 0; i < header_size; ++i) {
        out[i] = static_cast<std::byte>((length >> (8 * i)) & 0xffU);
    }
}

std::size_t decode_length(const std::byte* in) noexcept {
    std::size_t length = 0;
    for (std::size_t i = 0; i < header_size; ++i) {
        length |= std::to_integer<std::size_t>(in[i]) << (8 * i);
    }
    return length;
}

/// One frame (length prefix and payload), built once.
std::vector<std::byte> make_frame(std::size_t size) {
    std::vector<std::byte> frame(header_size + size, std::byte{'x'});
    encode_length(size, frame.data());
    return frame;
}

/// Buffers frames and writes them in chunks of up to 64 KiB.
class FrameWriter {
public:
    explicit FrameWriter(const Fd& fd) : fd_(fd), buffer_(write_buffer_size) {}

    void add(std::span<const std::byte> payload) {
        const std::size_t frame = header_size + payload.size();
        if (frame > buffer_.size() - used_) {
            flush();
        }
        if (frame > buffer_.size()) {
            write_unbuffered(payload);
            return;
        }
        encode_length(payload.size(), buffer_.data() + used_);
        std::ranges::copy(payload, buffer_.data() + used_ + header_size);  // memcpy: not if empty
        used_ += frame;
    }

    void flush() {
        send_all(fd_, std::span{buffer_}.first(used_));
        used_ = 0;
    }

private:
    void write_unbuffered(std::span<const std::byte> payload) {
        std::array<std::byte, header_size> header{};
        encode_length(payload.size(), header.data());
        std::array<iovec, 2> parts{{{header.data(), header.size()},
                                    {const_cast<std::byte*>(payload.data()), payload.size()}}};  // only read
        send_all(fd_, parts);
    }

    const Fd& fd_;
    std::vector<std::byte> buffer_;
    std::size_t used_ = 0;
};

/// Reads the stream in large chunks and hands out the frames in it, in place.
class FrameReader {
public:
    FrameReader(const Fd& fd, std::size_t largest_payload)
        : fd_(fd), buffer_(std::max(read_buffer_size, header_size + largest_payload)) {}

    /// The next frame's payload, valid until the next call; nothing if the peer closed between
    /// frames.
    std::optional<std::span<const std::byte>> next() {
        if (!buffered(header_size)) {
            if (begin_ == end_) {
                return std::nullopt;
            }
            fail("raw", "connection closed inside a frame header");
        }
        const std::size_t length = decode_length(buffer_.data() + begin_);
        if (header_size + length > buffer_.size()) {
            fail("raw", "frame of " + std::to_string(length) + " bytes is larger than the read buffer");
        }
        if (!buffered(header_size + length)) {
            fail("raw", "connection closed inside a frame of " + std::to_string(length) + " bytes");
        }
        const std::span<const std::byte> payload{buffer_.data() + begin_ + header_size, length};
        begin_ += header_size + length;
        return payload;
    }

private:
    /// Reads until `wanted` bytes are buffered; false if the peer closed first.
    bool buffered(std::size_t wanted) {
        if (end_ - begin_ >= wanted) {
            return true;
        }
        if (begin_ + wanted > buffer_.size()) {  // the frame would run past the end: move it up
            std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        while (end_ - begin_ < wanted) {
            const ssize_t got = ::read(fd_.get(), buffer_.data() + end_, buffer_.size() - end_);
            if (got > 0) {
                end_ += static_cast<std::size_t>(got);
            } else if (got == 0) {
                return false;
            } else if (errno != EINTR) {
                fail_errno("read");
            }
        }
        return true;
    }

    const Fd& fd_;
    std::vector<std::byte> buffer_;
    std::size_t begin_ = 0;  ///< first unparsed byte
    std::size_t end_ = 0;    ///< end of the bytes read
};

/// The next message, which must be `size` bytes; `index` counts from 0 for the error text.
void receive(FrameReader& reader, std::size_t size, std::size_t index, std::size_t total) {
    const auto payload = reader.next();
    if (!payload) {
        fail("raw", "connection closed after " + std::to_string(index) + " of " + std::to_string(total) +
                        " messages");
    }
    if (payload->size() != size) {
        fail("raw", "message " + std::to_string(index + 1) + " of " + std::to_string(total) + " has " +
                        std::to_string(payload->size()) + " bytes, expected " + std::to_string(size));
    }
}

/// Blocks until the peer closes the connection; it must send nothing.
void wait_for_close(const Fd& fd) {
    std::array<std::byte, 64> scrap{};
    for (;;) {
        const ssize_t got = ::read(fd.get(), scrap.data(), scrap.size());
        if (got == 0) {
            return;
        }
        if (got > 0) {
            fail("raw", "the receiver sent data");
        }
        if (errno != EINTR) {
            fail_errno("read while waiting for the receiver to close");
        }
    }
}

void check_size(const Workload& work) {
    if (work.size > std::numeric_limits<std::uint32_t>::max()) {
        fail("raw", "message size " + std::to_string(work.size) + " does not fit the 4-byte length");
    }
}

class RawContender final : public Contender {
public:
    [[nodiscard]] std::string_view name() const override { return "raw"; }

    void sink(const Endpoint& at, const Workload& work, const Ready& ready, Stopwatch& clock) override {
        check_size(work);
        const Fd fd = accept_one(at, ready);
        FrameReader reader{fd, work.size};
        const std::size_t total = work.warmup + work.count;
        for (std::size_t i = 0; i < work.warmup; ++i) {
            receive(reader, work.size, i, total);
        }
        clock.start();
        for (std::size_t i = work.warmup; i < total; ++i) {
            receive(reader, work.size, i, total);
        }
        clock.stop();
    }

    void source(const Endpoint& at, const Workload& work) override {
        check_size(work);
        const std::vector<std::byte> payload(work.size, std::byte{'x'});
        const Fd fd = connect(at);
        FrameWriter writer{fd};
        const std::size_t total = work.warmup + work.count;
        for (std::size_t i = 0; i < total; ++i) {
            writer.add(payload);
        }
        writer.flush();
        if (::shutdown(fd.get(), SHUT_WR) != 0) {
            fail_errno("shutdown");
        }
        wait_for_close(fd);
    }

    void echo(const Endpoint& at, const Workload& work, const Ready& ready) override {
        check_size(work);
        const std::vector<std::byte> reply = make_frame(work.size);
        const Fd fd = accept_one(at, ready);
        FrameReader reader{fd, work.size};
        const std::size_t total = work.warmup + work.count;
        for (std::size_t i = 0; i < total; ++i) {
            receive(reader, work.size, i, total);
            send_all(fd, reply);
        }
    }

    [[nodiscard]] std::vector<std::uint32_t> ping(const Endpoint& at, const Workload& work,
                                                  Stopwatch& clock) override {
        check_size(work);
        const std::vector<std::byte> request = make_frame(work.size);
        std::vector<std::uint32_t> times;
        times.reserve(work.count);
        const Fd fd = connect(at);
        FrameReader reader{fd, work.size};
        const std::size_t total = work.warmup + work.count;
        for (std::size_t i = 0; i < work.warmup; ++i) {
            send_all(fd, request);
            receive(reader, work.size, i, total);
        }
        clock.start();
        for (std::size_t i = work.warmup; i < total; ++i) {
            const auto begin = std::chrono::steady_clock::now();
            send_all(fd, request);
            receive(reader, work.size, i, total);
            times.push_back(saturated_nanoseconds(std::chrono::steady_clock::now() - begin));
        }
        clock.stop();
        return times;
    }
};

}  // namespace

std::unique_ptr<Contender> make_raw() {
    return std::make_unique<RawContender>();
}

}  // namespace tofu::bench

// Linux io_uring backend, completion-based (a proactor): the loop submits accepts, connects,
// receives and sends, and the kernel performs them and reports each one done. Submissions made
// during a loop turn go to the kernel in the same system call that waits for completions.
//
// Receives use a ring of provided buffers: the kernel picks a buffer when data arrives, so an idle
// connection holds no buffer. A completion's bytes stay valid until the next `wait`.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include <liburing.h>

#include "net/socket.hpp"

namespace tofu::detail {

/// What a submitted operation was.
enum class IoOp : std::uint8_t { notify, accept, connect, recv, send };

/// One finished operation.
struct Completion {
    IoOp op = IoOp::notify;
    std::uint64_t tag = 0;            ///< what the submitter gave (56 bits)
    int result = 0;                   ///< bytes moved, an accepted descriptor, or 0; -errno on failure
    bool more = false;                ///< a multishot operation goes on
    std::span<const std::byte> data;  ///< recv: the bytes received, valid until the next wait()
};

class UringProactor {
public:
    /// Throws `Error(communication_failed)` saying why when the kernel refuses io_uring or lacks
    /// what this backend needs (Linux 6.0: provided buffer rings, synchronous cancellation).
    UringProactor();
    ~UringProactor() = default;
    UringProactor(const UringProactor&) = delete;
    UringProactor& operator=(const UringProactor&) = delete;
    UringProactor(UringProactor&&) = delete;
    UringProactor& operator=(UringProactor&&) = delete;

    /// Reports `fd` readable, again and again (the engine's notifier).
    void watch(int fd, std::uint64_t tag);
    /// Accepts connections on a listener until it fails or is cancelled (one completion each).
    void accept(int fd, std::uint64_t tag);
    /// Connects `fd` to `where`; submitted at once, so `where` need not outlive the call.
    void connect(int fd, const SocketAddress& where, std::uint64_t tag);
    /// Receives up to `max_bytes` (at most `max_recv`) into a buffer of the ring.
    void recv(int fd, std::size_t max_bytes, std::uint64_t tag);
    /// Sends what `msg` describes; `msg` and the bytes it points to must live until the completion.
    void send(int fd, const msghdr& msg, std::uint64_t tag);
    /// Cancels every operation on `fd` and returns once the kernel is done with them (their
    /// completions still arrive, with -ECANCELED or what they achieved first).
    void cancel(int fd) noexcept;
    /// Submits what was queued, waits up to timeout_ms (-1: no limit) for at least one
    /// completion, and returns the completions.
    std::span<const Completion> wait(int timeout_ms);

    /// The largest receive: the size of one provided buffer.
    static constexpr std::size_t max_recv = std::size_t{64} * 1024;
    /// The backend's name, for logs and benchmarks.
    static constexpr const char* name = "io_uring";

private:
    static constexpr unsigned buffer_count = 64;  // a power of two, as the buffer ring requires
    static constexpr std::size_t max_completions = 256;

    io_uring_sqe& next_sqe();
    /// Hands the buffers of the last batch back to the kernel.
    void recycle_buffers() noexcept;

    /// Anonymous memory the kernel reads or writes for us (page-aligned, as the buffer ring needs).
    class Mapping {
    public:
        explicit Mapping(std::size_t bytes);
        ~Mapping();
        Mapping(const Mapping&) = delete;
        Mapping& operator=(const Mapping&) = delete;
        Mapping(Mapping&&) = delete;
        Mapping& operator=(Mapping&&) = delete;
        [[nodiscard]] void* get() const noexcept { return data_; }

    private:
        void* data_;
        std::size_t bytes_;
    };
    /// The ring itself; declared after the memory it uses, so it goes first.
    struct Ring {
        Ring();
        ~Ring();
        Ring(const Ring&) = delete;
        Ring& operator=(const Ring&) = delete;
        Ring(Ring&&) = delete;
        Ring& operator=(Ring&&) = delete;
        io_uring ring{};
    };

    Mapping buffer_ring_memory_;
    Mapping buffer_memory_;
    Ring uring_;
    io_uring_buf_ring* buffer_ring_;
    std::byte* buffers_;                                 ///< buffer_count buffers of max_recv bytes
    std::array<std::uint16_t, max_completions> lent_{};  ///< buffers in the last batch
    std::size_t lent_count_ = 0;
    std::array<Completion, max_completions> completions_{};
};

}  // namespace tofu::detail

#include "poller/uring_proactor.hpp"

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include <poll.h>
#include <sys/mman.h>

#include <tofu/status.hpp>

namespace tofu::detail {
namespace {

constexpr unsigned submission_entries = 256;
constexpr unsigned completion_entries = 4096;
constexpr unsigned buffer_group = 0;
constexpr unsigned op_bits = 8;

[[noreturn]] void refuse(const std::string& what, int error) {
    throw Error{AmpeStatus::communication_failed,
                "io_uring backend unavailable: " + what + ": " + std::system_category().message(error) +
                    " (needs Linux 6.0 with io_uring enabled, see kernel.io_uring_disabled; or build "
                    "with -DTOFU_POLLER=epoll)"};
}

/// The operation and its tag travel in the entry's user data and come back with its completion.
void set_tag(io_uring_sqe& sqe, IoOp op, std::uint64_t tag) noexcept {
    io_uring_sqe_set_data64(&sqe, (tag << op_bits) | static_cast<std::uint64_t>(op));
}

}  // namespace

UringProactor::Mapping::Mapping(std::size_t bytes)
    : data_{::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)},
      bytes_{bytes} {
    if (data_ == MAP_FAILED) {
        throw Error{AmpeStatus::allocation_failed, "io_uring backend: no memory for receive buffers"};
    }
}

UringProactor::Mapping::~Mapping() {
    ::munmap(data_, bytes_);
}

UringProactor::Ring::Ring() {
    io_uring_params params{};
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN;
    params.cq_entries = completion_entries;
    if (const int rc = io_uring_queue_init_params(submission_entries, &ring, &params); rc < 0) {
        refuse("io_uring_setup", -rc);
    }
}

UringProactor::Ring::~Ring() {
    io_uring_queue_exit(&ring);  // cancels what is left and waits for it
}

UringProactor::UringProactor()
    : buffer_ring_memory_{buffer_count * sizeof(io_uring_buf)},
      buffer_memory_{buffer_count * max_recv},
      buffer_ring_{static_cast<io_uring_buf_ring*>(buffer_ring_memory_.get())},
      buffers_{static_cast<std::byte*>(buffer_memory_.get())} {
    // Synchronous cancellation (Linux 6.0) is what lets a closing channel take its memory back at
    // once; asked about a descriptor with no operations, it answers ENOENT where it exists.
    io_uring_sync_cancel_reg probe{};
    probe.fd = uring_.ring.ring_fd;
    probe.flags = IORING_ASYNC_CANCEL_FD;
    probe.timeout.tv_sec = -1;
    probe.timeout.tv_nsec = -1;
    if (const int rc = io_uring_register_sync_cancel(&uring_.ring, &probe); rc != -ENOENT && rc != 0) {
        refuse("synchronous cancellation", -rc);
    }
    io_uring_buf_ring_init(buffer_ring_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(buffer_ring_);
    reg.ring_entries = buffer_count;
    reg.bgid = buffer_group;
    if (const int rc = io_uring_register_buf_ring(&uring_.ring, &reg, 0); rc < 0) {
        refuse("provided buffer ring", -rc);
    }
    const int mask = io_uring_buf_ring_mask(buffer_count);
    for (unsigned i = 0; i < buffer_count; ++i) {
        io_uring_buf_ring_add(buffer_ring_, buffers_ + i * max_recv, max_recv, static_cast<std::uint16_t>(i),
                              mask, static_cast<int>(i));
    }
    io_uring_buf_ring_advance(buffer_ring_, static_cast<int>(buffer_count));
}

io_uring_sqe& UringProactor::next_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&uring_.ring);
    if (sqe == nullptr) {
        io_uring_submit(&uring_.ring);  // the queue is full: hand it to the kernel and take a fresh entry
        sqe = io_uring_get_sqe(&uring_.ring);
    }
    if (sqe == nullptr) {
        throw Error{AmpeStatus::communication_failed, "io_uring: no submission entry free"};
    }
    return *sqe;
}

void UringProactor::watch(int fd, std::uint64_t tag) {
    io_uring_sqe& sqe = next_sqe();
    io_uring_prep_poll_multishot(&sqe, fd, POLLIN);
    set_tag(sqe, IoOp::notify, tag);
}

void UringProactor::accept(int fd, std::uint64_t tag) {
    io_uring_sqe& sqe = next_sqe();
    io_uring_prep_multishot_accept(&sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    set_tag(sqe, IoOp::accept, tag);
}

void UringProactor::connect(int fd, const SocketAddress& where, std::uint64_t tag) {
    io_uring_sqe& sqe = next_sqe();
    io_uring_prep_connect(&sqe, fd, where.get(), where.length);
    set_tag(sqe, IoOp::connect, tag);
    io_uring_submit(&uring_.ring);  // the kernel copies the address during submission
}

void UringProactor::recv(int fd, std::size_t max_bytes, std::uint64_t tag) {
    io_uring_sqe& sqe = next_sqe();
    io_uring_prep_recv(&sqe, fd, nullptr, std::min(max_bytes, max_recv), 0);
    sqe.flags |= IOSQE_BUFFER_SELECT;
    sqe.buf_group = buffer_group;
    set_tag(sqe, IoOp::recv, tag);
}

void UringProactor::send(int fd, const msghdr& msg, std::uint64_t tag) {
    io_uring_sqe& sqe = next_sqe();
    io_uring_prep_sendmsg(&sqe, fd, &msg, static_cast<unsigned>(send_flags()));
    set_tag(sqe, IoOp::send, tag);
}

void UringProactor::cancel(int fd) noexcept {
    // What is still queued must reach the kernel first: a receive submitted after the descriptor
    // closed could land on a new socket that reuses its number.
    io_uring_submit(&uring_.ring);
    io_uring_sync_cancel_reg reg{};
    reg.fd = fd;
    reg.flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL;
    reg.timeout.tv_sec = -1;
    reg.timeout.tv_nsec = -1;
    io_uring_register_sync_cancel(&uring_.ring, &reg);
}

void UringProactor::recycle_buffers() noexcept {
    if (lent_count_ == 0) {
        return;
    }
    const int mask = io_uring_buf_ring_mask(buffer_count);
    for (std::size_t i = 0; i < lent_count_; ++i) {
        const std::uint16_t id = lent_[i];
        io_uring_buf_ring_add(buffer_ring_, buffers_ + std::size_t{id} * max_recv, max_recv, id, mask,
                              static_cast<int>(i));
    }
    io_uring_buf_ring_advance(buffer_ring_, static_cast<int>(lent_count_));
    lent_count_ = 0;
}

std::span<const Completion> UringProactor::wait(int timeout_ms) {
    recycle_buffers();
    io_uring_cqe* first = nullptr;
    int rc = 0;
    if (timeout_ms < 0) {
        rc = io_uring_submit_and_wait(&uring_.ring, 1);
    } else if (timeout_ms == 0) {
        rc = io_uring_submit(&uring_.ring);
    } else {
        __kernel_timespec ts{};
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1'000'000;
        rc = io_uring_submit_and_wait_timeout(&uring_.ring, &first, 1, &ts, nullptr);
    }
    if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EBUSY && rc != -EAGAIN) {
        throw Error{AmpeStatus::communication_failed,
                    "io_uring_enter: " + std::system_category().message(-rc)};
    }
    std::size_t n = 0;
    unsigned head = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&uring_.ring, head, cqe) {
        if (n == max_completions) {
            break;  // the rest waits for the next turn
        }
        Completion& c = completions_[n++];
        c.op = static_cast<IoOp>(cqe->user_data & ((1U << op_bits) - 1U));
        c.tag = cqe->user_data >> op_bits;
        c.result = cqe->res;
        c.more = (cqe->flags & IORING_CQE_F_MORE) != 0;
        c.data = {};
        if ((cqe->flags & IORING_CQE_F_BUFFER) != 0) {
            const auto id = static_cast<std::uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            lent_[lent_count_++] = id;
            if (cqe->res > 0) {
                c.data = {buffers_ + std::size_t{id} * max_recv, static_cast<std::size_t>(cqe->res)};
            }
        }
    }
    io_uring_cq_advance(&uring_.ring, static_cast<unsigned>(n));
    return {completions_.data(), n};
}

}  // namespace tofu::detail

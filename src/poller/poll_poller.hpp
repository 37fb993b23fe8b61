// Portable poll(2) backend: the fallback where no better mechanism exists, and Windows' backend
// (WSAPoll, the same call under Winsock's name). O(n) per wait, so it suits modest connection
// counts.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#if defined(_WIN32)
#include <winsock2.h>
#else
#include <poll.h>
#endif

#include "poller/triggers.hpp"

namespace tofu::detail {

class PollPoller {
public:
    PollPoller() = default;

    void add(int fd, std::uint32_t token, Triggers interest);
    void modify(int fd, std::uint32_t token, Triggers interest);
    void remove(int fd) noexcept;
    std::span<const PollEvent> wait(int timeout_ms);

#if defined(_WIN32)
    static constexpr const char* name = "wsapoll";
    /// WSAPoll wants at least one event asked for each socket.
    static constexpr bool watches_errors_alone = false;
#else
    static constexpr const char* name = "poll";
    /// A socket asked for no event still reports an error or a hang-up (POLLERR, POLLHUP).
    static constexpr bool watches_errors_alone = true;
#endif

private:
    struct Entry {
        std::uint32_t token;
        Triggers interest;
    };
    static constexpr std::size_t absent = ~std::size_t{0};

    std::size_t& slot_of(int fd);

    std::vector<pollfd> fds_;         // what poll() gets
    std::vector<Entry> entries_;      // parallel to fds_
    std::vector<std::size_t> index_;  // fd -> position in fds_, or absent
    std::vector<PollEvent> events_;
};

}  // namespace tofu::detail

#include "poller/kqueue_poller.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <ctime>
#include <string>
#include <system_error>
#include <utility>

#include <unistd.h>

#include <tofu/status.hpp>

namespace tofu::detail {
namespace {

/// What travels in a kevent's user data: the token and the part of the interest its filter serves, so
/// translating an event back needs no lookup. Tokens fit 16 bits, so it fits a 32-bit pointer too.
/// The field is a pointer on some systems and an integer on others: the bits are the same.
using UserData = decltype(std::declval<struct kevent>().udata);
using Filter = decltype(std::declval<struct kevent>().filter);
static_assert(sizeof(UserData) == sizeof(std::uintptr_t));

UserData pack(std::uint32_t token, Triggers interest) noexcept {
    return std::bit_cast<UserData>(
        static_cast<std::uintptr_t>((std::uint32_t{interest.bits()} << 24U) | token));
}

std::uintptr_t unpack(UserData data) noexcept {
    return std::bit_cast<std::uintptr_t>(data);
}

[[noreturn]] void fail(const char* what) {
    throw Error{AmpeStatus::communication_failed,
                std::string{what} + ": " + std::system_category().message(errno)};
}

}  // namespace

KqueuePoller::KqueuePoller() : kqueue_fd_{::kqueue()} {
    if (kqueue_fd_ < 0) {
        throw Error{AmpeStatus::allocation_failed,
                    std::string{"kqueue: "} + std::system_category().message(errno)};
    }
}

KqueuePoller::~KqueuePoller() {
    ::close(kqueue_fd_);
}

void KqueuePoller::apply(int fd, std::uint32_t token, Triggers interest, const char* what) {
    const auto index = static_cast<std::size_t>(fd);
    if (index >= registered_.size()) {
        registered_.resize(index + 1);
    }
    const Triggers before = registered_[index];
    std::array<struct kevent, 2> changes{};
    int n = 0;
    // Each filter carries its own part of the interest, so a change of the other part leaves it be.
    const auto update = [&](Filter filter, Triggers part) {
        const Triggers now = interest & part;
        if (now == (before & part)) {
            return;
        }
        const std::uint16_t flags = now.empty() ? EV_DELETE : EV_ADD;
        EV_SET(&changes[static_cast<std::size_t>(n++)], static_cast<uintptr_t>(fd), filter, flags, 0, 0,
               pack(token, now));
    };
    update(EVFILT_READ, read_triggers);
    update(EVFILT_WRITE, write_triggers);
    if (n != 0 && ::kevent(kqueue_fd_, changes.data(), n, nullptr, 0, nullptr) != 0) {
        fail(what);
    }
    registered_[index] = interest;
}

void KqueuePoller::add(int fd, std::uint32_t token, Triggers interest) {
    if (static_cast<std::size_t>(fd) < registered_.size()) {
        registered_[static_cast<std::size_t>(fd)] = {};  // a new socket: closing removed the old filters
    }
    apply(fd, token, interest, "kevent(EV_ADD)");
}

void KqueuePoller::modify(int fd, std::uint32_t token, Triggers interest) {
    apply(fd, token, interest, "kevent(EV_ADD/EV_DELETE)");
}

void KqueuePoller::remove(int fd) noexcept {
    const auto index = static_cast<std::size_t>(fd);
    if (index >= registered_.size()) {
        return;
    }
    // One call per filter: a failed deletion in a batch would stop the rest.
    for (const auto& [filter, part] :
         {std::pair{Filter{EVFILT_READ}, read_triggers}, std::pair{Filter{EVFILT_WRITE}, write_triggers}}) {
        if (!(registered_[index] & part).empty()) {
            struct kevent change {};
            EV_SET(&change, static_cast<uintptr_t>(fd), filter, EV_DELETE, 0, 0, UserData{});
            (void)::kevent(kqueue_fd_, &change, 1, nullptr, 0, nullptr);
        }
    }
    registered_[index] = {};
}

std::span<const PollEvent> KqueuePoller::wait(int timeout_ms) {
    timespec timeout{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1'000'000L};
    const int n =
        ::kevent(kqueue_fd_, nullptr, 0, os_events_.data(), max_events, timeout_ms < 0 ? nullptr : &timeout);
    if (n < 0) {
        if (errno == EINTR) {
            return {};
        }
        fail("kevent(wait)");
    }
    std::size_t count = 0;
    for (int i = 0; i < n; ++i) {
        const struct kevent& os = os_events_[static_cast<std::size_t>(i)];
        const std::uintptr_t packed = unpack(os.udata);
        const auto token = static_cast<std::uint32_t>(packed & 0xFF'FFFFU);
        const auto interest = Triggers::from_bits(static_cast<std::uint8_t>(packed >> 24U));
        // `interest` is the filter's own part: a read end of stream (EV_EOF) reads as such, a
        // failed connect reports as writable, with EV_EOF.
        Triggers fired = interest;
        int os_error = 0;
        if ((os.flags & EV_ERROR) != 0) {
            fired |= Trigger::err;
        }
        if ((os.flags & EV_EOF) != 0 && os.fflags != 0) {
            fired |= Trigger::err;  // the socket's error, in fflags
            os_error = static_cast<int>(os.fflags);
        }
        // Read and write readiness of one socket come as two kevents: one PollEvent per token, as
        // the reactor expects from every backend.
        auto* same = std::find_if(events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(count),
                                  [token](const PollEvent& e) { return e.token == token; });
        if (same != events_.begin() + static_cast<std::ptrdiff_t>(count)) {
            same->fired |= fired;
            same->os_error = same->os_error != 0 ? same->os_error : os_error;
        } else {
            events_[count++] = PollEvent{token, fired, os_error};
        }
    }
    return {events_.data(), count};
}

}  // namespace tofu::detail

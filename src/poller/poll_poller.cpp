#include "poller/poll_poller.hpp"

#include <string>

#include <tofu/status.hpp>

#include "net/native_socket.hpp"
#include "net/socket.hpp"

namespace tofu::detail {
namespace {

short os_interest(Triggers interest) noexcept {
    short ev = 0;  // POLLERR and POLLHUP are always reported
    if (interest.any_of(read_triggers)) {
        ev = static_cast<short>(ev | POLLIN);
    }
    if (interest.any_of(write_triggers)) {
        ev = static_cast<short>(ev | POLLOUT);
    }
    return ev;
}

}  // namespace

std::size_t& PollPoller::slot_of(int fd) {
    const auto i = static_cast<std::size_t>(fd);
    if (i >= index_.size()) {
        index_.resize(i + 1, absent);
    }
    return index_[i];
}

void PollPoller::add(int fd, std::uint32_t token, Triggers interest) {
    std::size_t& slot = slot_of(fd);
    if (slot != absent) {
        throw Error{AmpeStatus::communication_failed,
                    "poll backend: fd " + std::to_string(fd) + " added twice"};
    }
    slot = fds_.size();
    pollfd entry{};
    entry.fd = fd;  // Winsock's SOCKET: the handle widened back (see net/native_socket.hpp)
    entry.events = os_interest(interest);
    fds_.push_back(entry);
    entries_.push_back(Entry{token, interest});
}

void PollPoller::modify(int fd, std::uint32_t token, Triggers interest) {
    const std::size_t slot = slot_of(fd);
    if (slot == absent) {
        throw Error{AmpeStatus::communication_failed, "poll backend: fd " + std::to_string(fd) + " unknown"};
    }
    fds_[slot].events = os_interest(interest);
    entries_[slot] = Entry{token, interest};
}

void PollPoller::remove(int fd) noexcept {
    const auto i = static_cast<std::size_t>(fd);
    if (i >= index_.size() || index_[i] == absent) {
        return;
    }
    const std::size_t slot = index_[i];
    const std::size_t last = fds_.size() - 1;
    if (slot != last) {  // keep the arrays dense: move the last entry into the hole
        fds_[slot] = fds_[last];
        entries_[slot] = entries_[last];
        index_[static_cast<std::size_t>(fds_[slot].fd)] = slot;
    }
    fds_.pop_back();
    entries_.pop_back();
    index_[i] = absent;
}

std::span<const PollEvent> PollPoller::wait(int timeout_ms) {
    events_.clear();
#if defined(_WIN32)
    const int n = ::WSAPoll(fds_.data(), static_cast<ULONG>(fds_.size()), timeout_ms);
#else
    const int n = ::poll(fds_.data(), static_cast<nfds_t>(fds_.size()), timeout_ms);
#endif
    if (n < 0) {
        const int error = native::last_error();
        if (error == native::err::interrupted) {
            return {};
        }
        throw Error{AmpeStatus::communication_failed, std::string{name} + ": " + os_error_text(error)};
    }
    for (std::size_t i = 0; i < fds_.size() && events_.size() < static_cast<std::size_t>(n); ++i) {
        const short re = fds_[i].revents;
        if (re == 0) {
            continue;
        }
        const Entry& e = entries_[i];
        Triggers fired;
        if ((re & (POLLIN | POLLHUP | POLLERR)) != 0) {
            fired |= e.interest & read_triggers;
        }
        if ((re & (POLLOUT | POLLHUP | POLLERR)) != 0) {
            fired |= e.interest & write_triggers;
        }
        if ((re & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
            fired |= Trigger::err;  // also for a socket registered for nothing else
        }
        events_.push_back(PollEvent{e.token, fired});
    }
    return events_;
}

}  // namespace tofu::detail

/// @file
/// tofu inside Asio: `tofu::asio::receiver`, an I/O object whose `async_receive` takes a channel
/// group's next message with any completion token (callbacks, `asio::use_awaitable`,
/// `asio::use_future`, `asio::experimental::deferred`), so a group is served from an `io_context` beside
/// timers, sockets and coroutines, with no thread blocked in `wait_receive`.
///
/// Header-only and optional: include it after adding standalone Asio's include path (Debian's
/// `libasio-dev`, 1.22 or later); the tofu library itself does not depend on Asio.
///
/// How it waits: on the group's `ReceiveWatch` (see `ChannelGroup::watch`), whose descriptor Asio
/// waits on through its own duplicate of it, so Asio never holds a descriptor that someone else
/// closed. Either side may go first:
/// - the receiver destroyed (or move-assigned over, or cancelled) while an operation is under
///   way: the operation completes with `asio::error::operation_aborted` and no message (none is
///   lost: the next receive, by any means, gets it);
/// - the group destroyed while an operation waits: the operation completes with
///   `tofu::AmpeStatus::invalid_group` (tofu's error category) and no message, and so does every
///   later `async_receive`.
///
/// Thread safety: as for any Asio I/O object, one thread at a time (or a strand); at most one
/// `async_receive` outstanding. As in Asio's own composed operations, an operation's steps run on
/// its completion handler's associated executor (the receiver's, unless the token binds another). The
/// receiver is the group's one consumer while it is used: do not mix it with `wait_receive` / `try_receive`
/// on other threads.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/compose.hpp>
#include <asio/error.hpp>
#include <asio/execution_context.hpp>
#include <asio/post.hpp>

#if defined(_WIN32)
#include <asio/basic_datagram_socket.hpp>
#include <asio/ip/udp.hpp>
#else
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <asio/posix/basic_stream_descriptor.hpp>
#endif

#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/status.hpp>

// Asio's conventions, not tofu's: lower-case type names, basic_receiver<Executor> and its alias.
// NOLINTBEGIN(readability-identifier-naming)
namespace tofu::asio {

namespace detail {

#if defined(_WIN32)
/// What Asio waits on: the watch's descriptor is a loopback UDP socket on Windows.
template <typename Executor>
using watch_descriptor = ::asio::basic_datagram_socket<::asio::ip::udp, Executor>;

/// An Asio object owning its own duplicate of the watch's socket.
template <typename Executor>
watch_descriptor<Executor> open_descriptor(const Executor& ex, NativeHandle handle) {
    WSAPROTOCOL_INFOW info{};
    if (::WSADuplicateSocketW(static_cast<SOCKET>(handle), ::GetCurrentProcessId(), &info) != 0) {
        throw Error{AmpeStatus::notification_failed, "tofu::asio::receiver: WSADuplicateSocketW: " +
                                                         std::system_category().message(::WSAGetLastError())};
    }
    const SOCKET copy = ::WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info, 0,
                                     WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (copy == INVALID_SOCKET) {
        throw Error{AmpeStatus::notification_failed, "tofu::asio::receiver: WSASocketW: " +
                                                         std::system_category().message(::WSAGetLastError())};
    }
    watch_descriptor<Executor> descriptor{ex};
    std::error_code ec;
    descriptor.assign(::asio::ip::udp::v4(), copy, ec);
    if (ec) {
        ::closesocket(copy);
        throw Error{AmpeStatus::notification_failed, "tofu::asio::receiver: " + ec.message()};
    }
    return descriptor;
}
#else
/// What Asio waits on: the watch's descriptor is a file descriptor on POSIX.
template <typename Executor>
using watch_descriptor = ::asio::posix::basic_stream_descriptor<Executor>;

/// An Asio object owning its own duplicate of the watch's descriptor.
template <typename Executor>
watch_descriptor<Executor> open_descriptor(const Executor& ex, NativeHandle handle) {
    const int copy = ::fcntl(handle, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
        throw Error{AmpeStatus::notification_failed,
                    "tofu::asio::receiver: dup: " + std::generic_category().message(errno)};
    }
    watch_descriptor<Executor> descriptor{ex};
    std::error_code ec;
    descriptor.assign(copy, ec);
    if (ec) {
        ::close(copy);
        throw Error{AmpeStatus::notification_failed, "tofu::asio::receiver: " + ec.message()};
    }
    return descriptor;
}
#endif

/// What a receiver and its pending operation share, so that either may outlive the other.
template <typename Executor>
struct receiver_state {
    receiver_state(const Executor& ex, std::shared_ptr<ReceiveWatch> w)
        : watch{std::move(w)}, descriptor{open_descriptor(ex, watch->native_handle())} {}

    std::shared_ptr<ReceiveWatch> watch;
    watch_descriptor<Executor> descriptor;
    bool closed = false;      ///< the receiver went: its operations end without taking anything
    std::size_t cancels = 0;  ///< `cancel()` calls: an operation under way when one came ends
};

/// One `async_receive`. Every attempt to take a message runs in a handler of its own (never inside
/// the initiating call), after the checks that end a cancelled operation, so that an operation
/// ends either with a message or having taken nothing.
template <typename Executor>
class receive_op {
public:
    explicit receive_op(std::shared_ptr<receiver_state<Executor>> state) noexcept
        : state_{std::move(state)}, cancels_at_start_{state_->cancels} {}

    template <typename Self>
    void operator()(Self& self, std::error_code ec = {}) {
        if (!started_) {
            started_ = true;
            // Any kind of cancellation is safe: a cancelled operation has taken nothing.
            self.reset_cancellation_state(::asio::enable_total_cancellation());
            ::asio::post(state_->descriptor.get_executor(), std::move(self));
            return;
        }
        if (!ec && (state_->closed || state_->cancels != cancels_at_start_ ||
                    self.get_cancellation_state().cancelled() != ::asio::cancellation_type::none)) {
            ec = ::asio::error::operation_aborted;  // after the wait ended, before it was handled
        }
        if (ec) {
            self.complete(ec, MessagePtr{});  // cancelled, or the receiver went
            return;
        }
        std::error_code gone;
        if (MessagePtr msg = state_->watch->try_receive(gone); msg || gone) {
            self.complete(gone, std::move(msg));
            return;
        }
        // Asio re-checks readiness as a wait starts (epoll_ctl / EV_ADD), so a message queued since
        // the empty receive above wakes this wait at once.
        state_->descriptor.async_wait(watch_descriptor<Executor>::wait_read, std::move(self));
    }

private:
    std::shared_ptr<receiver_state<Executor>> state_;
    std::size_t cancels_at_start_;
    bool started_ = false;
};

}  // namespace detail

/// An Asio I/O object that receives a channel group's messages: see the file's description.
/// @tparam Executor the I/O executor type.
template <typename Executor = ::asio::any_io_executor>
class basic_receiver {
public:
    /// The type of the executor associated with the object.
    using executor_type = Executor;

    /// Rebinds the receiver to another executor type.
    /// @tparam Executor1 the other executor type.
    template <typename Executor1>
    struct rebind_executor {
        /// The receiver type when rebound to the specified executor.
        using other = basic_receiver<Executor1>;
    };

    /// A receiver of `group`'s messages whose operations run on `ex`.
    /// @param ex the I/O executor.
    /// @param group the group; it may be destroyed before the receiver (see the file's description).
    /// @throws tofu::Error(notification_failed) when the OS refuses a descriptor.
    basic_receiver(const executor_type& ex, ChannelGroup& group)
        : state_{std::make_shared<detail::receiver_state<Executor>>(ex, group.watch())} {}

    /// A receiver of `group`'s messages whose operations run on `context`'s executor.
    /// @param context an execution context such as `asio::io_context`.
    /// @param group the group; it may be destroyed before the receiver.
    /// @throws tofu::Error(notification_failed) when the OS refuses a descriptor.
    template <typename ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, ::asio::execution_context&> basic_receiver(
        ExecutionContext& context, ChannelGroup& group)
        : basic_receiver{executor_type{context.get_executor()}, group} {}

    /// Takes over `other`'s group and pending operation; `other` may then only be destroyed or
    /// assigned to.
    basic_receiver(basic_receiver&& other) noexcept = default;
    /// Ends this receiver's pending operation (`operation_aborted`, as the destructor does) and
    /// takes over `other`'s group and pending operation.
    basic_receiver& operator=(basic_receiver&& other) noexcept {
        if (this != &other) {
            close();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    basic_receiver(const basic_receiver&) = delete;
    basic_receiver& operator=(const basic_receiver&) = delete;
    /// Closes the receiver: a pending operation completes with `operation_aborted`.
    ~basic_receiver() { close(); }

    /// The executor the receiver's operations run on.
    [[nodiscard]] executor_type get_executor() noexcept { return state_->descriptor.get_executor(); }

    /// Ends the `async_receive` under way (waiting, or woken and not yet handled) with
    /// `asio::error::operation_aborted` and no message; later ones work as before.
    void cancel() {
        ++state_->cancels;  // also ends an operation whose wait has ended but not been handled
        std::error_code ignored;
        state_->descriptor.cancel(ignored);
    }

    /// Receives the group's next message.
    ///
    /// Completion signature `void(std::error_code, tofu::MessagePtr)`: a message and no error;
    /// or no message and `asio::error::operation_aborted` (cancelled through the token's
    /// cancellation slot, `cancel()`, or the receiver went away) or `AmpeStatus::invalid_group`
    /// (the group went away). A message ready at the call still completes through the executor,
    /// never inside this call.
    /// @param token the completion token (a callback, `asio::use_awaitable`, `asio::use_future`,
    /// `asio::experimental::deferred`, ...).
    template <typename CompletionToken = ::asio::default_completion_token_t<executor_type>>
    auto async_receive(CompletionToken&& token = ::asio::default_completion_token_t<executor_type>{}) {
        return ::asio::async_compose<CompletionToken, void(std::error_code, MessagePtr)>(
            detail::receive_op<Executor>{state_}, token, state_->descriptor);
    }

private:
    void close() noexcept {
        if (state_) {
            state_->closed = true;
            std::error_code ignored;
            state_->descriptor.close(ignored);
        }
    }

    std::shared_ptr<detail::receiver_state<Executor>> state_;
};

/// The receiver with Asio's default, type-erased I/O executor.
using receiver = basic_receiver<>;

}  // namespace tofu::asio
// NOLINTEND(readability-identifier-naming)

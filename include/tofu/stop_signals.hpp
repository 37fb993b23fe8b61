/// @file
/// `StopSignals`: SIGINT and SIGTERM (Ctrl+C, Ctrl+Break, closing the console on Windows) turned
/// into a wake-up of a channel group, so a program stops from its own receive loop.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>

namespace tofu {

namespace header {
/// Name of the text header on the wake-up a `StopSignals` puts into its group: the stop signal
/// that arrived, `~signal:SIGINT` or `~signal:SIGTERM` (Windows: `~signal:CTRL_C`,
/// `~signal:CTRL_BREAK`, `~signal:CTRL_CLOSE`).
inline constexpr std::string_view signal = "~signal";
}  // namespace header

/// The stop signal `msg` carries (`"SIGINT"`, `"SIGTERM"`, `"CTRL_C"`...), or empty when `msg`
/// is not a `StopSignals` wake-up (status `receiver_update` with a `header::signal`).
[[nodiscard]] std::string_view stop_signal_of(const Message& msg) noexcept;

/// While alive, catches the process's stop signals and wakes a channel group with each one.
///
/// On POSIX it installs handlers for SIGINT and SIGTERM (the previous ones come back when it is
/// destroyed); each handler only writes a byte to a pipe, and a thread of its own turns that
/// byte into a message. On Windows a console control handler takes Ctrl+C, Ctrl+Break and
/// closing the console. So it may be made before or after engines exist, and nothing needs to
/// block signals in any thread (a signal blocked in every thread never reaches it).
///
/// `ChannelGroup::update_receiver` must not be called from a signal handler (it takes a lock and
/// may allocate): this class is the safe way from a signal to a group.
///
/// One per process: a second one alive at the same time throws `Error` (`not_allowed`).
///
/// @code
/// tofu::StopSignals stop{*group};
/// for (;;) {
///     tofu::MessagePtr msg = group->wait_receive(tofu::wait_forever);
///     if (!tofu::stop_signal_of(*msg).empty()) {
///         break;  // SIGINT or SIGTERM: stop
///     }
///     // ... handle msg ...
/// }
/// @endcode
class StopSignals {
public:
    /// Called on the helper's own thread with the signal's name, as in `header::signal`.
    using Callback = std::function<void(std::string_view signal_name)>;

    /// Wakes `group` with each stop signal: `update_receiver` with a Signal message carrying
    /// `header::signal`. `group` must outlive this object.
    /// @throws Error `not_allowed` when another `StopSignals` is alive; `notification_failed`
    /// when the operating system refuses the handler or the pipe.
    explicit StopSignals(ChannelGroup& group);

    /// Calls `on_signal` with each stop signal, on the helper's thread (one call at a time). An
    /// exception it throws is reported on stderr and dropped.
    /// @throws Error as the other constructor.
    explicit StopSignals(Callback on_signal);

    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;
    StopSignals(StopSignals&&) = delete;
    StopSignals& operator=(StopSignals&&) = delete;

    /// Restores the previous handlers and ends the helper's thread: no wake-up or callback runs
    /// after it returns. A signal arriving after that gets the previous handler (by default
    /// SIGINT and SIGTERM end the process).
    ~StopSignals();

    /// How many stop signals arrived so far.
    [[nodiscard]] unsigned received() const noexcept;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace tofu

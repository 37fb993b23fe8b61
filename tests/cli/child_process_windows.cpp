// The child process on Windows: CreateProcess with three anonymous pipes. Anonymous pipes cannot
// be polled, so a thread reads each output pipe into an inbox and `pump` waits on the inbox; a
// thread writes stdin, so neither side can block the other.
#include "cli/child_process.hpp"

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN  // no <winsock.h>, which clashes with the <winsock2.h> of other files
#endif
#include <windows.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace tofu::cli_test {
namespace {

/// POSIX's SIGKILL, which MinGW's <csignal> does not define.
constexpr int sigkill = 9;
/// The exit code a child gets when `send_signal` ends it: 128 + SIGKILL, as on POSIX.
constexpr UINT killed_exit_code = 128 + sigkill;
/// How many times a process start that fails with ERROR_INTERNAL_ERROR is tried (see the constructor).
constexpr int max_start_attempts = 3;

[[noreturn]] void throw_last_error(const std::string& what) {
    throw std::system_error{static_cast<int>(::GetLastError()), std::system_category(), what};
}

void close_handle(HANDLE& h) noexcept {
    if (h != nullptr) {
        ::CloseHandle(h);
        h = nullptr;
    }
}

/// One end for the child (inheritable), one for this process (not).
struct Pipe {
    HANDLE read = nullptr;
    HANDLE write = nullptr;
};

Pipe make_pipe(bool child_reads) {
    SECURITY_ATTRIBUTES inheritable{};
    inheritable.nLength = sizeof inheritable;
    inheritable.bInheritHandle = TRUE;
    Pipe p;
    if (::CreatePipe(&p.read, &p.write, &inheritable, 0) == 0) {
        throw_last_error("CreatePipe");
    }
    ::SetHandleInformation(child_reads ? p.write : p.read, HANDLE_FLAG_INHERIT, 0);
    return p;
}

/// argv as one command line, quoted the way the C runtime splits it again.
std::string command_line(const std::vector<std::string>& argv) {
    std::string line;
    for (const std::string& arg : argv) {
        if (!line.empty()) {
            line += ' ';
        }
        if (!arg.empty() && arg.find_first_of(" \t\"") == std::string::npos) {
            line += arg;
            continue;
        }
        line += '"';
        std::size_t backslashes = 0;
        for (const char c : arg) {
            if (c == '\\') {
                ++backslashes;
                continue;
            }
            // Backslashes before a quote are doubled, and the quote escaped; elsewhere literal.
            line.append(c == '"' ? 2 * backslashes + 1 : backslashes, '\\');
            backslashes = 0;
            line += c;
        }
        line.append(2 * backslashes, '\\');  // before the closing quote
        line += '"';
    }
    return line;
}

}  // namespace

struct ChildProcess::Native {
    HANDLE process = nullptr;
    HANDLE stdin_write = nullptr;
    HANDLE out_read = nullptr;
    HANDLE err_read = nullptr;

    std::mutex mutex;
    std::condition_variable changed;
    std::string out_inbox;  // read by the threads, not yet moved into out_/err_ by `pump`
    std::string err_inbox;
    bool out_ended = false;
    bool err_ended = false;
    std::string to_write;      // handed to the stdin thread
    bool close_stdin = false;  // after to_write is written
    bool quitting = false;

    std::thread out_reader;
    std::thread err_reader;
    std::thread stdin_writer;

    void read_all(HANDLE from, std::string& inbox, bool& ended) {
        std::vector<char> buffer(65536);
        for (;;) {
            DWORD n = 0;
            if (::ReadFile(from, buffer.data(), static_cast<DWORD>(buffer.size()), &n, nullptr) == 0 ||
                n == 0) {
                break;  // the child's end is closed (ERROR_BROKEN_PIPE), or a failure that stays
            }
            const std::lock_guard lock{mutex};
            inbox.append(buffer.data(), n);
            changed.notify_all();
        }
        const std::lock_guard lock{mutex};
        ended = true;
        changed.notify_all();
    }

    void write_all() {
        for (;;) {
            std::string chunk;
            {
                std::unique_lock lock{mutex};
                changed.wait(lock, [this] { return quitting || !to_write.empty() || close_stdin; });
                if (quitting || (to_write.empty() && close_stdin)) {
                    break;
                }
                chunk = std::exchange(to_write, {});
            }
            for (std::string_view rest{chunk}; !rest.empty();) {
                DWORD n = 0;
                if (::WriteFile(stdin_write, rest.data(), static_cast<DWORD>(rest.size()), &n, nullptr) ==
                    0) {
                    close_handle(stdin_write);  // the child stopped reading
                    return;
                }
                rest.remove_prefix(n);
            }
        }
        close_handle(stdin_write);
    }
};

ChildProcess::ChildProcess(const std::vector<std::string>& argv) : native_{std::make_unique<Native>()} {
    Pipe in = make_pipe(true);
    Pipe out = make_pipe(false);
    Pipe err = make_pipe(false);

    STARTUPINFOA startup{};
    startup.cb = sizeof startup;
    startup.dwFlags = STARTF_USESTDHANDLES;
    startup.hStdInput = in.read;
    startup.hStdOutput = out.write;
    startup.hStdError = err.write;
    PROCESS_INFORMATION info{};
    std::string line = command_line(argv);
    BOOL started = FALSE;
    DWORD error = ERROR_SUCCESS;
    // Under Wine a process start failed once with ERROR_INTERNAL_ERROR while other shards were
    // starting theirs (a CI run of 2026-12-05): taken for a passing fault of the emulator, it is
    // asked again. Any other error is final.
    for (int attempt = 0; attempt < max_start_attempts; ++attempt) {
        started = ::CreateProcessA(argv.at(0).c_str(), line.data(), nullptr, nullptr, TRUE, CREATE_NO_WINDOW,
                                   nullptr, nullptr, &startup, &info);
        error = ::GetLastError();
        if (started != 0 || error != ERROR_INTERNAL_ERROR) {
            break;
        }
    }
    // The child holds its own copies now: with ours closed, its exit ends the pipes.
    close_handle(in.read);
    close_handle(out.write);
    close_handle(err.write);
    native_->stdin_write = in.write;
    native_->out_read = out.read;
    native_->err_read = err.read;
    if (started == 0) {
        close_handle(native_->stdin_write);
        close_handle(native_->out_read);
        close_handle(native_->err_read);
        reaped_ = true;
        throw std::system_error{static_cast<int>(error), std::system_category(),
                                "CreateProcess " + argv.at(0)};
    }
    ::CloseHandle(info.hThread);
    native_->process = info.hProcess;
    pid_ = static_cast<pid_t>(info.dwProcessId);
    Native& n = *native_;
    n.out_reader = std::thread{[&n] { n.read_all(n.out_read, n.out_inbox, n.out_ended); }};
    n.err_reader = std::thread{[&n] { n.read_all(n.err_read, n.err_inbox, n.err_ended); }};
    n.stdin_writer = std::thread{[&n] { n.write_all(); }};
}

ChildProcess::~ChildProcess() {
    Native& n = *native_;
    if (!reaped_ && n.process != nullptr) {
        ::TerminateProcess(n.process, killed_exit_code);
        ::WaitForSingleObject(n.process, INFINITE);
    }
    {
        const std::lock_guard lock{n.mutex};
        n.quitting = true;
    }
    n.changed.notify_all();
    for (std::thread* t : {&n.out_reader, &n.err_reader, &n.stdin_writer}) {
        if (t->joinable()) {
            t->join();  // the readers end with the child: its exit closes the pipes' last writers
        }
    }
    close_handle(n.stdin_write);
    close_handle(n.out_read);
    close_handle(n.err_read);
    close_handle(n.process);
}

bool ChildProcess::pump(std::chrono::steady_clock::time_point deadline) {
    Native& n = *native_;
    std::unique_lock lock{n.mutex};
    const auto news = [&] {
        return !n.out_inbox.empty() || !n.err_inbox.empty() || (out_.open && n.out_ended) ||
               (err_.open && n.err_ended);
    };
    if (!n.changed.wait_until(lock, deadline, news)) {
        return false;
    }
    for (auto [output, inbox, ended] :
         {std::tuple{&out_, &n.out_inbox, n.out_ended}, std::tuple{&err_, &n.err_inbox, n.err_ended}}) {
        output->unread += *inbox;
        output->all += *inbox;
        inbox->clear();
        output->open = output->open && !ended;
    }
    return true;
}

void ChildProcess::write_stdin() {
    Native& n = *native_;
    {
        const std::lock_guard lock{n.mutex};
        n.to_write += std::exchange(stdin_pending_, {});
        n.close_stdin = n.close_stdin || stdin_close_requested_;
    }
    n.changed.notify_all();
}

void ChildProcess::close_stdin() {
    stdin_close_requested_ = true;
    write_stdin();
}

int ChildProcess::reap() {
    Native& n = *native_;
    DWORD code = 0;
    if (::WaitForSingleObject(n.process, INFINITE) != WAIT_OBJECT_0 ||
        ::GetExitCodeProcess(n.process, &code) == 0) {
        throw_last_error("waiting for the child");
    }
    return static_cast<int>(code);
}

void ChildProcess::send_signal(int signal_number) {
    if (signal_number != sigkill && signal_number != SIGTERM) {
        throw std::logic_error{"signal " + std::to_string(signal_number) + " cannot be sent on Windows"};
    }
    if (!reaped_ && ::TerminateProcess(native_->process, killed_exit_code) == 0) {
        throw_last_error("TerminateProcess");
    }
}

bool ChildProcess::running() {
    if (!reaped_ && ::WaitForSingleObject(native_->process, 0) == WAIT_OBJECT_0) {
        exit_code_ = reap();
        reaped_ = true;
    }
    return !reaped_;
}

}  // namespace tofu::cli_test

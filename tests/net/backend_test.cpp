// The backend the library was built with, as the application sees it: its name, and on io_uring
// a kernel that refuses io_uring (seccomp, containers, kernel.io_uring_disabled) turning into a
// clear error from Reactor::create rather than an engine that cannot run.
#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#if defined(__linux__)
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <tofu/ampe.hpp>
#include <tofu/status.hpp>
#include <tofu/version.hpp>

namespace tofu::test {
namespace {

TEST(Backend, NameIsOneOfTheSupportedBackends) {
    const std::set<std::string_view> known{"epoll", "kqueue", "poll", "wsapoll", "io_uring"};
    EXPECT_TRUE(known.contains(backend_name)) << backend_name;
}

#if defined(__linux__)
/// Makes io_uring_setup fail with EPERM in this process from now on, as a container's seccomp
/// profile does. False when the filter could not be installed.
bool refuse_io_uring_setup() {
    std::array<sock_filter, 4> code{{
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    }};
    const sock_fprog program{static_cast<unsigned short>(code.size()), code.data()};
    return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
           ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

/// Exit codes of the child in the test below.
enum ChildResult : int {
    created = 10,
    clear_error = 0,
    wrong_status = 11,
    unclear_text = 12,
    no_filter = 13
};

TEST(Backend, IoUringRefusedByTheKernelIsAClearErrorFromCreate) {
    if (std::string_view{backend_name} != "io_uring") {
        GTEST_SKIP() << "this library is built on the " << backend_name << " backend, not io_uring";
    }
    // In a child process: the seccomp filter stays with the process that installs it.
    const pid_t child = ::fork();
    ASSERT_GE(child, 0) << "fork failed";
    if (child == 0) {
        if (!refuse_io_uring_setup()) {
            ::_exit(no_filter);
        }
        try {
            const auto engine = Reactor::create(Options{});
            ::_exit(created);
        } catch (const Error& e) {
            const std::string text = e.what();
            if (e.status() != AmpeStatus::communication_failed) {
                ::_exit(wrong_status);
            }
            const bool clear = text.find("io_uring") != std::string::npos &&
                               text.find("Operation not permitted") != std::string::npos &&
                               text.find("TOFU_POLLER=epoll") != std::string::npos;
            ::_exit(clear ? clear_error : unclear_text);
        }
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << "the child died instead of exiting: status " << status;
    EXPECT_EQ(WEXITSTATUS(status), clear_error)
        << "10: the engine started anyway; 11: another status; 12: the text does not say what and "
           "what to do; 13: the seccomp filter could not be installed";
}

#endif  // __linux__

}  // namespace
}  // namespace tofu::test

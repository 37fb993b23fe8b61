#include "support/process_stats.hpp"

#include <winsock2.h>
// windows.h after winsock2.h: first, it would bring the old winsock.h.
#include <windows.h>
// psapi.h and winternl.h after windows.h, which they need.
#include <psapi.h>
#include <winternl.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace tofu::test {
namespace {

// NtQuerySystemInformation's list of every handle in the system (class 64,
// SystemExtendedHandleInformation), laid out as ntdll fills it; the SDK headers do not declare it.
// It gives each handle's type. (GetProcessHandleCount counts every type, and Wine answers it with 0.)
constexpr ULONG system_extended_handle_information = 64;
constexpr NTSTATUS status_info_length_mismatch = static_cast<NTSTATUS>(0xC0000004L);

struct HandleEntry {
    void* object;
    ULONG_PTR process_id;
    ULONG_PTR handle_value;
    ULONG granted_access;
    USHORT creator_back_trace_index;
    USHORT object_type_index;
    ULONG handle_attributes;
    ULONG reserved;
};

struct HandleList {
    ULONG_PTR count;
    ULONG_PTR reserved;
    HandleEntry entries[1];
};

using QuerySystemInformation = NTSTATUS(NTAPI*)(ULONG, void*, ULONG, ULONG*);

QuerySystemInformation query_system_information() {
    static const auto query = [] {
        const HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
        FARPROC address = ntdll == nullptr ? nullptr : ::GetProcAddress(ntdll, "NtQuerySystemInformation");
        // FARPROC to the real signature goes through void*, as GetProcAddress's users must.
        return reinterpret_cast<QuerySystemInformation>(reinterpret_cast<void*>(address));
    }();
    return query;
}

/// Calls `visit` with each handle this process holds.
template <typename Visit>
void for_each_handle(Visit visit) {
    const QuerySystemInformation query = query_system_information();
    if (query == nullptr) {
        throw std::runtime_error{"ntdll has no NtQuerySystemInformation"};
    }
    std::vector<std::byte> buffer(std::size_t{1} << 20U);
    for (;;) {
        ULONG needed = 0;
        const NTSTATUS status = query(system_extended_handle_information, buffer.data(),
                                      static_cast<ULONG>(buffer.size()), &needed);
        if (status == status_info_length_mismatch) {
            buffer.resize(buffer.size() * 2);
            continue;
        }
        if (status < 0) {
            throw std::runtime_error{"NtQuerySystemInformation(handles) failed"};
        }
        break;
    }
    const auto* list = reinterpret_cast<const HandleList*>(buffer.data());
    const ULONG_PTR self = ::GetCurrentProcessId();
    for (ULONG_PTR i = 0; i < list->count; ++i) {
        const HandleEntry& entry = list->entries[i];  // NOLINT: a variable-length array
        if (entry.process_id == self) {
            visit(entry);
        }
    }
}

double seconds(const FILETIME& time) {  // FILETIME counts 100 ns
    return static_cast<double>((std::uint64_t{time.dwHighDateTime} << 32U) | time.dwLowDateTime) / 1e7;
}

}  // namespace

bool process_stats_available() {
    return query_system_information() != nullptr;
}

std::size_t open_descriptor_count() {
    // Files and sockets (a socket is a file of the AFD driver), what a POSIX descriptor stands for.
    // Threads, events and semaphores are left out: the C runtime and the threads library make
    // some on first use (a contended mutex, a condition variable) and keep them.
    static const USHORT file_type = [] {
        const HANDLE probe = ::CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                                           OPEN_EXISTING, 0, nullptr);
        if (probe == INVALID_HANDLE_VALUE) {
            throw std::runtime_error{"cannot open NUL to learn the type number of a file handle"};
        }
        USHORT type = 0;
        for_each_handle([&](const HandleEntry& entry) {
            if (entry.handle_value == reinterpret_cast<ULONG_PTR>(probe)) {
                type = entry.object_type_index;
            }
        });
        ::CloseHandle(probe);
        return type;
    }();
    std::size_t count = 0;
    for_each_handle([&](const HandleEntry& entry) { count += entry.object_type_index == file_type ? 1 : 0; });
    return count;
}

std::size_t resident_bytes() {
    PROCESS_MEMORY_COUNTERS counters{};
    if (::GetProcessMemoryInfo(::GetCurrentProcess(), &counters, sizeof counters) == 0) {
        throw std::runtime_error{"GetProcessMemoryInfo failed"};
    }
    return counters.WorkingSetSize;
}

std::size_t heap_bytes_in_use() {
    // The C runtime's malloc draws from a heap of its own, not always the process heap: walk them all.
    std::vector<HANDLE> heaps(64);
    DWORD count = ::GetProcessHeaps(static_cast<DWORD>(heaps.size()), heaps.data());
    if (count > heaps.size()) {
        heaps.resize(count);
        count = ::GetProcessHeaps(static_cast<DWORD>(heaps.size()), heaps.data());
    }
    std::size_t busy = 0;
    for (DWORD i = 0; i < count && i < heaps.size(); ++i) {
        if (::HeapLock(heaps[i]) == 0) {
            continue;
        }
        PROCESS_HEAP_ENTRY entry{};
        while (::HeapWalk(heaps[i], &entry) != 0) {
            busy += (entry.wFlags & PROCESS_HEAP_ENTRY_BUSY) != 0 ? entry.cbData : 0;
        }
        ::HeapUnlock(heaps[i]);
    }
    return busy;
}

bool sanitizer_allocator() noexcept {
    return false;
}

std::chrono::duration<double> process_cpu_time() {
    FILETIME created{};
    FILETIME exited{};
    FILETIME kernel{};
    FILETIME user{};
    ::GetProcessTimes(::GetCurrentProcess(), &created, &exited, &kernel, &user);
    return std::chrono::duration<double>{seconds(kernel) + seconds(user)};
}

}  // namespace tofu::test

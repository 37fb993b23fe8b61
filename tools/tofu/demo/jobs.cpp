#include "demo/jobs.hpp"

#include <array>
#include <cstdio>

namespace tofu::cli::demo {

const char* pdl_name(Pdl pdl) noexcept {
    return pdl == Pdl::pdf ? "PDF" : "PS";
}

bool pdl_from_name(std::string_view name, Pdl& out) noexcept {
    if (name == "PDF") {
        out = Pdl::pdf;
        return true;
    }
    if (name == "PS") {
        out = Pdl::ps;
        return true;
    }
    return false;
}

std::vector<Job> make_jobs(std::uint64_t first_id, std::size_t count) {
    std::vector<Job> jobs;
    std::uint64_t noise = 0x9E3779B97F4A7C15ULL;  // xorshift state: same jobs on every run
    for (std::size_t i = 0; i < count; ++i) {
        Job job;
        job.id = first_id + i;
        job.pdl = i % 2 == 0 ? Pdl::pdf : Pdl::ps;
        job.pages = static_cast<std::uint32_t>(3 + (i * 5) % 11);
        const std::string header = job.pdl == Pdl::pdf ? "%PDF-1.7\n" : "%!PS-Adobe-3.0\n";
        const std::size_t size = 40'000 + job.pages * 29'000 + i * 7'919;  // 1 to 8 chunks
        job.data.reserve(size);
        for (const char c : header) {
            job.data.push_back(static_cast<std::byte>(c));
        }
        while (job.data.size() < size) {
            noise ^= noise << 13U;
            noise ^= noise >> 7U;
            noise ^= noise << 17U;
            job.data.push_back(static_cast<std::byte>(noise));
        }
        std::array<char, 160> ticket{};
        if (job.pdl == Pdl::pdf) {
            job.ticket_kind = "JDF";
            std::snprintf(ticket.data(), ticket.size(),
                          R"(<JDF ID="job-%llu" Type="Rasterize" Pages="%u" Media="A4"/>)",
                          static_cast<unsigned long long>(job.id), job.pages);
        } else {
            job.ticket_kind = "PPD";
            std::snprintf(ticket.data(), ticket.size(), "*JobID: job-%llu\n*Pages: %u\n*PageSize: Letter\n",
                          static_cast<unsigned long long>(job.id), job.pages);
        }
        job.ticket = ticket.data();
        jobs.push_back(std::move(job));
    }
    return jobs;
}

void Checksum::add(std::span<const std::byte> bytes) noexcept {
    for (const std::byte b : bytes) {
        hash_ ^= std::to_integer<std::uint64_t>(b);
        hash_ *= 0x100000001b3ULL;
    }
}

std::string Checksum::hex() const {
    std::array<char, 17> text{};
    std::snprintf(text.data(), text.size(), "%016llx", static_cast<unsigned long long>(hash_));
    return text.data();
}

}  // namespace tofu::cli::demo

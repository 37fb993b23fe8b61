// Print jobs for the demo: a ticket and page description data, generated deterministically, and
// the checksum both sides compute to prove every byte arrived.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tofu::cli::demo {

/// A page description language a worker can raster.
enum class Pdl : std::uint8_t { pdf, ps };

[[nodiscard]] const char* pdl_name(Pdl pdl) noexcept;  ///< "PDF" or "PS"
[[nodiscard]] bool pdl_from_name(std::string_view name, Pdl& out) noexcept;

struct Job {
    std::uint64_t id = 0;  ///< travels as the message id of every message of the job
    Pdl pdl = Pdl::pdf;
    std::string ticket_kind;  ///< "JDF" for PDF jobs, "PPD" for PostScript jobs
    std::string ticket;       ///< the ticket itself, sent as the first message's body
    std::uint32_t pages = 0;
    std::vector<std::byte> data;  ///< the PDL data, streamed after the ticket
};

/// `count` jobs with ids from `first_id`, alternating PDF and PostScript, of varied sizes.
[[nodiscard]] std::vector<Job> make_jobs(std::uint64_t first_id, std::size_t count);

/// FNV-1a, 64 bits: enough to show that every byte arrived in order.
class Checksum {
public:
    void add(std::span<const std::byte> bytes) noexcept;
    [[nodiscard]] std::uint64_t value() const noexcept { return hash_; }
    [[nodiscard]] std::string hex() const;

private:
    std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

/// The size of one streamed chunk: the largest body a message can carry.
inline constexpr std::size_t chunk_size = 65535;

}  // namespace tofu::cli::demo

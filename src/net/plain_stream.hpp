// The plain byte stream: the socket's own bytes, unchanged. It keeps no state, so one instance
// serves every channel.
#pragma once

#include "net/byte_stream.hpp"

namespace tofu::detail {

class PlainStream final : public ByteStream {
public:
    /// The instance every plain channel shares.
    [[nodiscard]] static PlainStream& shared() noexcept;

    IoResult read(const Socket& s, std::span<std::byte> into) noexcept override;
    IoResult peek(const Socket& s, std::span<std::byte> into) noexcept override;
    IoResult write(const Socket& s, std::span<const native::IoSlice> parts) noexcept override;
    void shutdown_send(const Socket& s) noexcept override;
    [[nodiscard]] bool has_buffered_input() const noexcept override { return false; }
    [[nodiscard]] Readiness needs(Readiness wants) const noexcept override { return wants; }
    [[nodiscard]] Readiness serves(Readiness fired, Readiness /*wants*/) const noexcept override {
        return fired;
    }
    std::span<const std::byte> absorb(std::span<const std::byte> received) override { return received; }
    std::span<const native::IoSlice> seal(std::span<const native::IoSlice> parts) override { return parts; }
    [[nodiscard]] std::size_t sent(std::size_t kernel_bytes) noexcept override { return kernel_bytes; }
    [[nodiscard]] bool has_output() const noexcept override { return false; }
};

}  // namespace tofu::detail

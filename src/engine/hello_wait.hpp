// A client connection's wait for its HelloResponse, as the loop's `Connector` keeps it: the
// HelloRequest as it was posted (it comes back whole if no HelloResponse does) and the connect
// deadline (`Options::connect_timeout`, or the HelloRequest's `~connect_timeout`).
#pragma once

#include <chrono>

#include <tofu/message.hpp>

namespace tofu::detail {

struct HelloWait {
    /// A copy of the HelloRequest as posted, made when the engine took it (exactly its size, so
    /// what it holds is bounded by a frame); null when nothing is awaited: a server's connection,
    /// or the HelloResponse arrived. What went on the wire is the posted message itself, without
    /// the headers the engine consumes.
    MessagePtr request;
    /// The connect timeout in force (0: none), for the report's words.
    std::chrono::milliseconds timeout{0};
    /// When it runs out (the default: never). The connection's timer is armed for it, and no
    /// other timer takes its place while the HelloResponse is awaited but one that closes the
    /// connection (the stall watch waits for the HelloResponse).
    std::chrono::steady_clock::time_point deadline;

    /// True while the HelloResponse is awaited.
    [[nodiscard]] bool awaited() const noexcept { return request != nullptr; }
};

}  // namespace tofu::detail

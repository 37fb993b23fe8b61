// What a channel wrote and its peer has not confirmed yet: the binary header of each regular frame
// (Request, Response, Signal) with its place in the stream. When the connection breaks, each entry
// comes back to the application as an "unconfirmed" message (docs/engine.md, "Confirmations").
//
// A ring that grows by doubling and keeps its storage, so a busy channel logs without allocating.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <tofu/message.hpp>

namespace tofu::detail {

class UnconfirmedLog {
public:
    struct Entry {
        std::uint64_t frame = 0;  ///< the frame's place in the stream, from 0
        BinaryHeader header;
    };

    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    /// Entries the ring has room for (its memory: this many `Entry`s).
    [[nodiscard]] std::size_t capacity() const noexcept { return ring_.size(); }
    [[nodiscard]] const Entry& front() const noexcept { return ring_[head_]; }

    void push_back(std::uint64_t frame, const BinaryHeader& header) {
        if (size_ == ring_.size()) {
            grow();
        }
        ring_[(head_ + size_) & (ring_.size() - 1)] = Entry{frame, header};
        ++size_;
    }

    void pop_front() noexcept {
        head_ = (head_ + 1) & (ring_.size() - 1);
        --size_;
    }

    /// Drops the entries of frames before `count`: the peer confirmed that many. A large ring
    /// that empties gives its memory back.
    void confirm(std::uint64_t count) noexcept {
        while (size_ != 0 && front().frame < count) {
            pop_front();
        }
        if (size_ == 0) {
            clear();
        }
    }

    /// Drops every entry; a large ring gives its memory back.
    void clear() noexcept {
        head_ = 0;
        size_ = 0;
        if (ring_.size() > kept_capacity) {
            std::vector<Entry>{}.swap(ring_);
        }
    }

private:
    /// A ring up to this many entries is kept when it empties, for the next burst.
    static constexpr std::size_t kept_capacity = 1024;

    void grow() {
        std::vector<Entry> bigger(ring_.empty() ? 4 : 2 * ring_.size());  // a request or two: 4
        for (std::size_t i = 0; i < size_; ++i) {
            bigger[i] = ring_[(head_ + i) & (ring_.size() - 1)];
        }
        ring_.swap(bigger);
        head_ = 0;
    }

    std::vector<Entry> ring_;  ///< power-of-two size
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

}  // namespace tofu::detail

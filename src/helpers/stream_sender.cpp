// Posting a payload of any size as a `more` stream (include/tofu/stream.hpp, post_stream).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/status.hpp>
#include <tofu/stream.hpp>

namespace tofu {
namespace {

/// What one part took from the payload: how many bytes, and whether the payload ends with them.
struct Chunk {
    std::size_t bytes = 0;
    bool last = false;
};

bool streams(OpCode op) noexcept {
    return op == OpCode::request || op == OpCode::response || op == OpCode::signal;
}

/// Posts one part; the status `post` refused it with, else `success` and the id it was posted with.
AmpeStatus post_part(ChannelGroup& group, MessagePtr& part, std::uint64_t& message_id) {
    std::error_code refused;
    const BinaryHeader posted = group.post(part, refused);
    if (refused) {
        return static_cast<AmpeStatus>(refused.value());
    }
    message_id = posted.message_id;
    return AmpeStatus::success;
}

/// The loop every form shares: `fill(body)` puts the next part's bytes into `body` and returns a
/// `std::optional<Chunk>`. The head is the first part; the others come from the pool.
template <typename Fill>
StreamResult send_parts(Ampe& ampe, ChannelGroup& group, MessagePtr head, const StreamOptions& options,
                        Fill&& fill) {
    StreamResult result;
    if (!head) {
        result.status = AmpeStatus::null_message;
        return result;
    }
    if (!streams(head->bhdr.proto.op_code)) {
        result.status = AmpeStatus::invalid_op_code;
        return result;
    }
    if (options.part_size == 0 || options.part_size > max_part_size) {
        result.status = AmpeStatus::not_allowed;
        return result;
    }
    const std::uint16_t channel = head->bhdr.channel_number;
    const OpCode op = head->bhdr.proto.op_code;
    std::uint64_t id = head->bhdr.message_id;
    MessagePtr part = std::move(head);
    for (;;) {
        part->body.reset();
        const std::optional<Chunk> chunk = fill(part->body);
        if (!chunk) {
            result.status = AmpeStatus::processing_failed;
            return result;
        }
        part->bhdr.proto.more = !chunk->last;
        result.status = post_part(group, part, id);
        if (!result.ok()) {
            return result;
        }
        result.message_id = id;
        ++result.parts;
        result.bytes += chunk->bytes;
        if (chunk->last) {
            return result;
        }
        // Backpressure: the next message is one the engine has given back, never a new one.
        part = ampe.wait_get(options.pool_wait);
        if (!part) {
            result.status = AmpeStatus::pool_empty;
            return result;
        }
        part->bhdr.channel_number = channel;
        part->bhdr.proto.op_code = op;
        part->bhdr.message_id = id;
    }
}

/// `send_parts` from a reader that fills a span and returns how many bytes it wrote (nothing on
/// failure); the bytes pass through one part-sized buffer, made once per stream.
template <typename Read>
StreamResult send_read(Ampe& ampe, ChannelGroup& group, MessagePtr head, const StreamOptions& options,
                       Read&& read) {
    std::vector<std::byte> buffer(std::min(options.part_size, max_part_size));
    return send_parts(ampe, group, std::move(head), options, [&](Body& body) -> std::optional<Chunk> {
        const std::optional<std::size_t> got = read(std::span{buffer});
        if (!got) {
            return std::nullopt;
        }
        const std::size_t n = std::min(*got, buffer.size());  // a source that claims more wrote no more
        body.copy(std::span{buffer}.first(n));
        return Chunk{n, n < buffer.size()};
    });
}

}  // namespace

StreamResult post_stream(Ampe& ampe, ChannelGroup& group, MessagePtr head, std::span<const std::byte> payload,
                         const StreamOptions& options) {
    std::size_t offset = 0;
    return send_parts(ampe, group, std::move(head), options, [&](Body& body) -> std::optional<Chunk> {
        const std::size_t n = std::min(options.part_size, payload.size() - offset);
        body.copy(payload.subspan(offset, n));
        offset += n;
        return Chunk{n, offset == payload.size()};
    });
}

StreamResult post_stream(Ampe& ampe, ChannelGroup& group, MessagePtr head, std::string_view payload,
                         const StreamOptions& options) {
    return post_stream(ampe, group, std::move(head), std::as_bytes(std::span{payload}), options);
}

StreamResult post_stream(Ampe& ampe, ChannelGroup& group, MessagePtr head, const PayloadSource& source,
                         const StreamOptions& options) {
    return send_read(ampe, group, std::move(head), options,
                     [&](std::span<std::byte> out) -> std::optional<std::size_t> { return source(out); });
}

StreamResult post_stream(Ampe& ampe, ChannelGroup& group, MessagePtr head, std::istream& in,
                         const StreamOptions& options) {
    return send_read(
        ampe, group, std::move(head), options, [&](std::span<std::byte> out) -> std::optional<std::size_t> {
            in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size()));
            if (in.bad()) {
                return std::nullopt;
            }
            return static_cast<std::size_t>(in.gcount());
        });
}

}  // namespace tofu

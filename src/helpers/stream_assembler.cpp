// Putting a peer's `more` streams back together within bounds (include/tofu/stream.hpp).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include <tofu/message.hpp>
#include <tofu/stream.hpp>

namespace tofu {

std::string_view stream_error_name(StreamError error) noexcept {
    switch (error) {
        case StreamError::payload_too_big: return "payload_too_big";
        case StreamError::too_many_streams: return "too_many_streams";
        case StreamError::dropped_earlier: return "dropped_earlier";
        case StreamError::channel_refused: return "channel_refused";
    }
    return "unknown";
}

// --- Payload -------------------------------------------------------------------------------------

Payload::Payload(MessagePtr single) noexcept : head_{std::move(single)} {}

Payload::Payload(MessagePtr head, std::vector<std::byte> bytes, std::size_t parts) noexcept
    : head_{std::move(head)}, joined_{std::move(bytes)}, parts_{parts} {}

std::span<const std::byte> Payload::bytes() const noexcept {
    if (parts_ > 1) {
        return joined_;
    }
    return head_ ? head_->body.data() : std::span<const std::byte>{};
}

std::string_view Payload::text() const noexcept {
    const std::span<const std::byte> b = bytes();
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// --- StreamAssembler -----------------------------------------------------------------------------

namespace {

StreamStep dropped_step(const StreamKey& key, StreamError error) {
    StreamStep step;
    step.drop = StreamDrop{key, error};
    return step;
}

StreamStep payload_step(Payload payload) {
    StreamStep step;
    step.payload.emplace(std::move(payload));
    return step;
}

}  // namespace

StreamAssembler::StreamAssembler(StreamLimits limits) noexcept
    : limits_{std::max<std::size_t>(limits.max_payload, 1), std::max<std::size_t>(limits.max_streams, 1)} {}

StreamStep StreamAssembler::add(MessagePtr msg) {
    if (!msg) {
        return {};
    }
    if (msg->bhdr.proto.type() != MessageType::regular) {
        return payload_step(Payload{std::move(msg)});  // Hello and Bye never stream
    }
    const StreamKey key{msg->bhdr.channel_number, msg->bhdr.message_id};
    if (refused_channels_.contains(key.channel)) {
        return dropped_step(key, StreamError::channel_refused);
    }
    const auto at = streams_.find(key);
    if (at == streams_.end()) {
        return start(key, std::move(msg));
    }
    if (!at->second.head) {  // a later part of a stream dropped before: it goes too
        if (!msg->has_more()) {
            erase(at);  // its last part: nothing more to recognise
        }
        return dropped_step(key, StreamError::dropped_earlier);
    }
    return extend(at, std::move(msg));
}

StreamStep StreamAssembler::start(const StreamKey& key, MessagePtr msg) {
    const std::size_t size = msg->body.size();
    if (!msg->has_more()) {  // a whole payload in one message: passed on, not copied
        return size > limits_.max_payload ? dropped_step(key, StreamError::payload_too_big)
                                          : payload_step(Payload{std::move(msg)});
    }
    if (open_ >= limits_.max_streams) {
        return refuse(key, StreamError::too_many_streams, false);
    }
    if (size > limits_.max_payload) {
        return refuse(key, StreamError::payload_too_big, false);
    }
    // The first part's headers move to a message of their own, and the pool message goes back at
    // once: a peer's unfinished streams must not hold the pool the engine reads into.
    Stream stream;
    stream.head = Message::create();
    stream.head->bhdr = msg->bhdr;
    stream.head->bhdr.proto.more = false;
    stream.head->thdrs.assign_raw(msg->thdrs.data());
    const std::span<const std::byte> body = msg->body.data();
    stream.bytes.assign(body.begin(), body.end());
    stream.parts = 1;
    streams_.emplace(key, std::move(stream));
    ++open_;
    held_bytes_ += size;
    return {};
}

StreamStep StreamAssembler::extend(Streams::iterator at, MessagePtr msg) {
    Stream& stream = at->second;
    const std::span<const std::byte> body = msg->body.data();
    const bool last = !msg->has_more();
    if (body.size() > limits_.max_payload - stream.bytes.size()) {
        return drop_open(at, StreamError::payload_too_big, last);
    }
    const std::size_t needed = stream.bytes.size() + body.size();
    if (stream.bytes.capacity() < needed) {  // doubling, but never past the limit
        stream.bytes.reserve(std::min(std::max(needed, 2 * stream.bytes.capacity()), limits_.max_payload));
    }
    stream.bytes.insert(stream.bytes.end(), body.begin(), body.end());
    ++stream.parts;
    held_bytes_ += body.size();
    if (!last) {
        return {};
    }
    held_bytes_ -= stream.bytes.size();
    --open_;
    Payload payload{std::move(stream.head), std::move(stream.bytes), stream.parts};
    streams_.erase(at);
    return payload_step(std::move(payload));
}

StreamStep StreamAssembler::refuse(const StreamKey& key, StreamError error, bool last) {
    if (last) {
        return dropped_step(key, error);  // nothing of it will follow: nothing to remember
    }
    if (dropped_ >= limits_.max_streams) {
        // No room to remember this stream, so its later parts could not be told from new streams:
        // the whole channel goes.
        drop_channel(key.channel);
        refused_channels_.insert(key.channel);
        return dropped_step(key, StreamError::channel_refused);
    }
    streams_.emplace(key, Stream{});
    ++dropped_;
    return dropped_step(key, error);
}

StreamStep StreamAssembler::drop_open(Streams::iterator at, StreamError error, bool last) {
    const StreamKey key = at->first;
    erase(at);
    return refuse(key, error, last);
}

void StreamAssembler::erase(Streams::iterator at) noexcept {
    if (at->second.head) {
        --open_;
        held_bytes_ -= at->second.bytes.size();
    } else {
        --dropped_;
    }
    streams_.erase(at);
}

std::size_t StreamAssembler::drop_channel(std::uint16_t channel) noexcept {
    refused_channels_.erase(channel);
    std::size_t count = 0;
    auto at = streams_.lower_bound(StreamKey{channel, 0});
    while (at != streams_.end() && at->first.channel == channel) {
        erase(at++);
        ++count;
    }
    return count;
}

bool StreamAssembler::drop(StreamKey key) noexcept {
    const auto at = streams_.find(key);
    if (at == streams_.end()) {
        return false;
    }
    erase(at);
    return true;
}

}  // namespace tofu

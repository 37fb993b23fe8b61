// Until the engine exists the demo shows the wire: messages are encoded to frames, the frames are
// cut into uneven pieces, and the incremental decoder must give back exactly what was sent.
#include "demo.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include <tofu/tofu.hpp>

#include "message/frame_codec.hpp"

namespace tofu::cli {
namespace {

std::string hex(std::span<const std::byte> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (const std::byte b : bytes) {
        const auto v = std::to_integer<unsigned>(b);
        out += digits[v >> 4U];
        out += digits[v & 0x0FU];
    }
    return out;
}

std::vector<MessagePtr> sample_messages() {
    std::vector<MessagePtr> out;

    auto hello = Message::create();
    TcpClientAddress{"127.0.0.1", 7099}.format(*hello);
    hello->bhdr.channel_number = 1;
    hello->bhdr.message_id = 1;
    hello->thdrs.append("PDL", "PDF");
    out.push_back(std::move(hello));

    auto job = Message::create();
    job->bhdr.channel_number = 7;
    job->bhdr.message_id = 42;
    job->bhdr.proto.more = true;
    job->thdrs.append("JobTicket", "JDF");
    job->body.copy(std::string_view{"<JDF ID=\"job-42\"/>"});
    out.push_back(std::move(job));

    auto progress = Message::create();
    progress->bhdr.channel_number = 7;
    progress->bhdr.proto.op_code = OpCode::signal;
    progress->bhdr.message_id = 42;
    progress->thdrs.append("Progress", "[1:2]");
    out.push_back(std::move(progress));

    auto bye = Message::create();
    bye->bhdr.channel_number = 7;
    bye->bhdr.proto.op_code = OpCode::bye_request;
    bye->bhdr.message_id = 43;
    out.push_back(std::move(bye));
    return out;
}

}  // namespace

int run_demo() {
    std::vector<MessagePtr> sent = sample_messages();
    std::vector<std::byte> stream;
    std::printf("tofu %s demo: wire frames round trip\n", version_string);
    for (const MessagePtr& m : sent) {
        const detail::FrameParts frame = detail::encode_frame(*m);
        std::vector<std::byte> bytes;
        for (const auto part : frame.parts) {
            bytes.insert(bytes.end(), part.begin(), part.end());
        }
        std::printf("  %-13s ch=%-3u id=%-3llu more=%d %3zu bytes: %s\n",
                    std::string{op_code_name(m->bhdr.proto.op_code)}.c_str(), m->bhdr.channel_number,
                    static_cast<unsigned long long>(m->bhdr.message_id), m->has_more() ? 1 : 0, bytes.size(),
                    hex(bytes).c_str());
        stream.insert(stream.end(), bytes.begin(), bytes.end());
    }

    // Feed the concatenated frames in uneven pieces: 1, 2, 3, ... bytes at a time.
    detail::FrameDecoder decoder;
    std::vector<MessagePtr> received;
    std::size_t offset = 0;
    for (std::size_t piece = 1; offset < stream.size(); ++piece) {
        const std::size_t n = std::min(piece, stream.size() - offset);
        std::span<const std::byte> in{stream.data() + offset, n};
        offset += n;
        for (;;) {
            const auto step = decoder.feed(in);
            if (step == detail::FrameDecoder::Step::need_message) {
                decoder.provide(Message::create());
            } else if (step == detail::FrameDecoder::Step::message_ready) {
                received.push_back(decoder.take());
            } else if (step == detail::FrameDecoder::Step::error) {
                std::printf("FAIL: decoder error %s\n",
                            std::string{status_name(decoder.error_status())}.c_str());
                return 1;
            } else {
                break;
            }
        }
    }

    bool ok = received.size() == sent.size() && decoder.finish() == AmpeStatus::success;
    for (std::size_t i = 0; ok && i < sent.size(); ++i) {
        ok = sent[i]->bhdr == received[i]->bhdr && sent[i]->thdrs.text() == received[i]->thdrs.text() &&
             sent[i]->body.text() == received[i]->body.text();
    }
    std::printf("%s: %zu messages, %zu bytes, decoded in pieces of growing size\n", ok ? "PASS" : "FAIL",
                received.size(), stream.size());
    return ok ? 0 : 1;
}

}  // namespace tofu::cli

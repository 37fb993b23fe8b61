#include <charconv>
#include <string>

#include "demo/peers.hpp"

namespace tofu::cli::demo {
namespace {

constexpr auto patience = std::chrono::seconds{20};

/// Reads the page count out of a JDF (`Pages="N"`) or PPD (`*Pages: N`) ticket.
std::uint32_t pages_in(std::string_view ticket) {
    for (const std::string_view key : {std::string_view{"Pages=\""}, std::string_view{"*Pages: "}}) {
        if (const std::size_t at = ticket.find(key); at != std::string_view::npos) {
            std::uint32_t pages = 0;
            const char* first = ticket.data() + at + key.size();
            std::from_chars(first, ticket.data() + ticket.size(), pages);
            return pages;
        }
    }
    return 0;
}

std::string progress(std::uint32_t done, std::uint32_t pages) {
    return "[" + std::to_string(done) + ":" + std::to_string(pages) + "]";
}

/// One job on one channel: hello, ticket, data, progress, goodbye.
class Session {
public:
    Session(const RasterWorker& worker, Ampe& engine, ChannelGroup& group, Log& log)
        : worker_{worker}, engine_{engine}, group_{group}, log_{log} {}

    bool run(const Address& spool) {
        MessagePtr hello = engine_.get(AllocationStrategy::always);
        format(*hello, spool);
        hello->thdrs.append("PDL", pdl_name(worker_.pdl));
        hello->thdrs.append("Worker", worker_.name);
        channel_ = group_.post(hello).channel_number;

        MessagePtr answer = next();
        if (!answer || answer->bhdr.proto.op_code != OpCode::hello_response) {
            return failed("no HelloResponse", answer);
        }
        return receive_job();
    }

private:
    bool receive_job() {
        for (;;) {
            MessagePtr m = next();
            if (!m || m->is_from_engine() || m->bhdr.proto.op_code != OpCode::request) {
                return failed("the job stream broke", m);
            }
            if (const auto kind = m->thdrs.find("JobTicket")) {
                job_id_ = m->bhdr.message_id;
                pages_ = pages_in(m->body.text());
                const auto length = m->thdrs.find("Content-Length").value_or("0");
                std::from_chars(length.data(), length.data() + length.size(), expected_bytes_);
                log_.say(worker_.name, "(raster)",
                         "ticket " + std::string{*kind} + " for job #" + std::to_string(job_id_) + ": " +
                             std::to_string(pages_) + " pages, " + std::to_string(expected_bytes_) +
                             " bytes");
            } else {
                if (m->bhdr.message_id != job_id_) {
                    return failed("data of another job", m);
                }
                checksum_.add(m->body.data());
                bytes_ += m->body.size();
                report_progress();
            }
            if (!m->has_more()) {
                return say_goodbye();
            }
        }
    }

    void report_progress() {
        // Pages are done in proportion to the data received; report each page boundary crossed.
        const auto done =
            static_cast<std::uint32_t>(expected_bytes_ == 0 ? pages_ : bytes_ * pages_ / expected_bytes_);
        if (done == reported_) {
            return;
        }
        reported_ = done;
        MessagePtr signal = engine_.get(AllocationStrategy::always);
        signal->bhdr.proto.op_code = OpCode::signal;
        signal->bhdr.channel_number = channel_;
        signal->bhdr.message_id = job_id_;
        signal->thdrs.append("Progress", progress(done, pages_));
        group_.post(signal);
    }

    bool say_goodbye() {
        MessagePtr bye = engine_.get(AllocationStrategy::always);
        bye->bhdr.proto.op_code = OpCode::bye_request;
        bye->bhdr.channel_number = channel_;
        bye->bhdr.message_id = job_id_;
        const bool complete = bytes_ == expected_bytes_;
        bye->thdrs.append("JobStatus", complete ? "completed" : "incomplete");
        bye->thdrs.append("Progress", progress(reported_, pages_));
        bye->thdrs.append("Bytes", std::to_string(bytes_));
        bye->thdrs.append("Checksum", checksum_.hex());
        group_.post(bye);

        MessagePtr answer = next();
        if (!answer || answer->bhdr.proto.op_code != OpCode::bye_response) {
            return failed("no ByeResponse", answer);
        }
        MessagePtr closed = next();
        if (!closed || closed->bhdr.status != AmpeStatus::channel_closed ||
            closed->thdrs.find(header::reason) != status_name(AmpeStatus::success)) {
            return failed("the channel did not close gracefully", closed);
        }
        log_.say(worker_.name, "(done)", "job #" + std::to_string(job_id_) + " rastered, channel closed");
        return complete;
    }

    /// The next message of this session, skipping backpressure notes.
    MessagePtr next() {
        for (;;) {
            MessagePtr m = group_.wait_receive(patience);
            if (!m || !(m->is_from_engine() && m->bhdr.status == AmpeStatus::pool_empty)) {
                return m;
            }
        }
    }

    bool failed(const std::string& what, const MessagePtr& got) {
        std::string detail = got ? std::string{op_code_name(got->bhdr.proto.op_code)} + " with status " +
                                       std::string{status_name(got->bhdr.status)} + " " +
                                       std::string{got->thdrs.text()}
                                 : "nothing within " + std::to_string(patience.count()) + " s";
        log_.fail(worker_.name + ": " + what + " (got " + detail + ")");
        return false;
    }

    const RasterWorker& worker_;
    Ampe& engine_;
    ChannelGroup& group_;
    Log& log_;
    std::uint16_t channel_ = 0;
    std::uint64_t job_id_ = 0;
    std::uint32_t pages_ = 0;
    std::uint32_t reported_ = 0;
    std::size_t expected_bytes_ = 0;
    std::size_t bytes_ = 0;
    Checksum checksum_;
};

}  // namespace

bool RasterWorker::run(Ampe& engine, const Address& spool, Log& log) const {
    ChannelGroupPtr group = engine.create();
    for (std::size_t i = 0; i < jobs; ++i) {
        Session session{*this, engine, *group, log};
        if (!session.run(spool)) {
            return false;
        }
    }
    return true;
}

}  // namespace tofu::cli::demo

#include <algorithm>
#include <string>

#include "demo/peers.hpp"

namespace tofu::cli::demo {
namespace {

std::string header_or(const Message& m, std::string_view name, std::string_view fallback) {
    return std::string{m.thdrs.find(name).value_or(fallback)};
}

}  // namespace

SpoolServer::SpoolServer(Ampe& engine, std::vector<Job> jobs, Log& log)
    : engine_{engine}, group_{engine.create()}, jobs_{std::move(jobs)}, log_{log} {
    for (const Job& job : jobs_) {
        waiting_.push_back(&job);
    }
}

Address SpoolServer::listen(const Address& where) {
    MessagePtr welcome = engine_.get(AllocationStrategy::always);
    format(*welcome, where);
    group_->post(welcome);
    const MessagePtr ready = group_->wait_receive(std::chrono::seconds{10});
    if (!ready || ready->bhdr.status != AmpeStatus::success) {
        throw Error{ready ? ready->bhdr.status : AmpeStatus::listen_failed,
                    "spool server: listen on " + to_string(where)};
    }
    const ParsedAddress bound = parse_address(*ready);  // the WelcomeResponse holds the bound address
    log_.say("spool", "engine", "WelcomeResponse: listening on " + to_string(bound.address));
    if (const auto* tcp = std::get_if<TcpServerAddress>(&bound.address)) {
        return TcpClientAddress{tcp->ip, tcp->port};
    }
    if (const auto* tls = std::get_if<TlsServerAddress>(&bound.address)) {
        return TlsClientAddress{tls->ip, tls->port};  // the certificate must name this IP
    }
    return UdsClientAddress{std::get<UdsServerAddress>(bound.address).path};
}

bool SpoolServer::serve(std::chrono::steady_clock::duration limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (confirmed_ < jobs_.size() || !open_.empty()) {
        const auto left = deadline - std::chrono::steady_clock::now();
        MessagePtr m = left > decltype(left)::zero() ? group_->wait_receive(left) : MessagePtr{};
        if (!m) {
            log_.fail("spool server timed out with " + std::to_string(jobs_.size() - confirmed_) +
                      " jobs unconfirmed");
            return false;
        }
        if (m->is_from_engine()) {
            if (m->bhdr.status == AmpeStatus::channel_closed) {
                const std::uint16_t ch = m->bhdr.channel_number;
                if (running_.erase(ch) != 0) {
                    log_.fail("channel " + std::to_string(ch) + " closed before its job was confirmed (" +
                              header_or(*m, header::reason, "?") + ")");
                }
                open_.erase(ch);
            }
            continue;  // pool_empty: nothing to do, the engine resumes by itself
        }
        switch (m->bhdr.proto.op_code) {
            case OpCode::hello_request: on_hello(std::move(m)); break;
            case OpCode::signal:
                log_.say(open_[m->bhdr.channel_number], "spool",
                         "Signal   #" + std::to_string(m->bhdr.message_id) +
                             " Progress: " + header_or(*m, "Progress", "?"));
                break;
            case OpCode::bye_request: on_bye(std::move(m)); break;
            default:
                log_.fail("spool server got an unexpected " +
                          std::string{op_code_name(m->bhdr.proto.op_code)});
        }
    }
    return log_.failures() == 0;
}

void SpoolServer::on_hello(MessagePtr hello) {
    const std::uint16_t ch = hello->bhdr.channel_number;
    const std::string worker = header_or(*hello, "Worker", "worker");
    const std::string pdl_text = header_or(*hello, "PDL", "");
    log_.say(worker, "spool", "HelloRequest PDL: " + pdl_text);
    Pdl pdl{};
    const bool known = pdl_from_name(pdl_text, pdl);
    const auto job =
        known ? std::ranges::find_if(waiting_, [&](const Job* j) { return j->pdl == pdl; }) : waiting_.end();
    if (job == waiting_.end()) {
        // Nothing for this worker: reject it (the worker sees its connection reset).
        log_.say("spool", worker, "ByeSignal (no " + pdl_text + " job left)");
        hello->bhdr.proto.op_code = OpCode::bye_signal;
        group_->post(hello);
        return;
    }
    const Job& chosen = **job;
    waiting_.erase(job);
    open_[ch] = worker;
    running_[ch] = &chosen;
    hello->bhdr.proto.op_code = OpCode::hello_response;
    hello->thdrs.reset();
    hello->body.reset();
    group_->post(hello);
    log_.say("spool", worker, "HelloResponse");
    send_job(ch, chosen);
}

void SpoolServer::send_job(std::uint16_t channel, const Job& job) {
    // The ticket first, then the data in chunks: one message id, `more` on all but the last.
    MessagePtr ticket = engine_.get(AllocationStrategy::always);
    ticket->bhdr.channel_number = channel;
    ticket->bhdr.message_id = job.id;
    ticket->bhdr.proto.more = true;
    ticket->thdrs.append("JobTicket", job.ticket_kind);
    ticket->thdrs.append("Content-Length", std::to_string(job.data.size()));
    ticket->body.copy(std::string_view{job.ticket});
    group_->post(ticket);
    log_.say("spool", open_[channel],
             "Request  #" + std::to_string(job.id) + " JobTicket: " + job.ticket_kind + " (" +
                 std::to_string(job.pages) + " pages)");

    std::size_t chunks = 0;
    for (std::size_t offset = 0; offset < job.data.size(); offset += chunk_size) {
        const std::size_t n = std::min(chunk_size, job.data.size() - offset);
        MessagePtr chunk = engine_.get(AllocationStrategy::always);
        chunk->bhdr.channel_number = channel;
        chunk->bhdr.message_id = job.id;
        chunk->bhdr.proto.more = offset + n < job.data.size();
        chunk->body.copy(std::span{job.data}.subspan(offset, n));
        group_->post(chunk);
        ++chunks;
    }
    bytes_sent_ += job.data.size();
    log_.say("spool", open_[channel],
             "Request  #" + std::to_string(job.id) + " " + pdl_name(job.pdl) +
                 " data: " + std::to_string(job.data.size()) + " bytes in " + std::to_string(chunks) +
                 " chunks (more on all but the last)");
}

void SpoolServer::on_bye(MessagePtr bye) {
    const std::uint16_t ch = bye->bhdr.channel_number;
    const std::string worker = open_[ch];
    const std::string status = header_or(*bye, "JobStatus", "?");
    const std::string progress = header_or(*bye, "Progress", "?");
    log_.say(worker, "spool",
             "ByeRequest #" + std::to_string(bye->bhdr.message_id) + " JobStatus: " + status +
                 ", Progress: " + progress);
    const auto running = running_.find(ch);
    if (running == running_.end()) {
        log_.fail(worker + " said goodbye without a job");
    } else {
        const Job& job = *running->second;
        Checksum expected;
        expected.add(job.data);
        const std::string final_progress =
            "[" + std::to_string(job.pages) + ":" + std::to_string(job.pages) + "]";
        const bool intact = header_or(*bye, "Bytes", "") == std::to_string(job.data.size()) &&
                            header_or(*bye, "Checksum", "") == expected.hex();
        if (bye->bhdr.message_id != job.id || status != "completed" || progress != final_progress ||
            !intact) {
            log_.fail("job " + std::to_string(job.id) + " reported " + std::string{bye->thdrs.text()});
        } else {
            ++confirmed_;
        }
        running_.erase(running);
    }
    bye->bhdr.proto.op_code = OpCode::bye_response;
    bye->thdrs.reset();
    group_->post(bye);
    log_.say("spool", worker, "ByeResponse");
}

}  // namespace tofu::cli::demo

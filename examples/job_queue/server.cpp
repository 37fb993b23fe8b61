// job_queue server: hands jobs to worker processes, one job per worker at a time, over TCP and a
// Unix domain socket, until SIGINT or SIGTERM; then it stops handing out, waits for the jobs in
// flight and prints what became of every job.
//
//   example_job_queue_server JOBS UDS_PATH [JOB_TIMEOUT_MS]
//
// Prints "tcp|127.0.0.1|PORT" and "uds|PATH" (the workers' addresses), then a line per event.
// Nothing is lost: the job of a worker that dies (its channel closes) or freezes (its job's timer
// fires first) goes back to the front of the queue, and a late answer to a re-queued job is ignored.
// Jobs alternate between 1 KiB and 200 KiB; the 200 KiB ones travel as `more` streams.
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <system_error>

#include <tofu/stop_signals.hpp>
#include <tofu/stream.hpp>
#include <tofu/tofu.hpp>

#include "job.hpp"

namespace {

class Server {
public:
    Server(tofu::Ampe& engine, tofu::ChannelGroup& group, std::uint64_t jobs,
           std::chrono::milliseconds timeout)
        : engine_{engine}, group_{group}, jobs_{jobs}, timeout_{timeout} {
        for (std::uint64_t id = 1; id <= jobs; ++id) {
            waiting_.push_back(id);
        }
    }

    // The receive loop: one switch on what arrived. Returns once stopped and the last job in flight
    // is answered or gone.
    void run() {
        while (!stopping_ || !busy_.empty()) {
            tofu::MessagePtr msg = group_.wait_receive(tofu::wait_forever);
            switch (tofu::classify(*msg)) {
                case tofu::Received::from_peer: on_peer(std::move(msg)); break;
                case tofu::Received::report:
                    if (msg->bhdr.status == tofu::AmpeStatus::channel_closed) {
                        on_worker_gone(msg->bhdr.channel_number, "left");
                    }
                    break;
                case tofu::Received::returned: break;  // a job for a worker that died: its close re-queues it
                case tofu::Received::wake_up:
                    if (!tofu::stop_signal_of(*msg).empty()) {
                        stopping_ = true;
                        std::cout << "stopping: " << busy_.size() << " jobs in flight" << std::endl;
                    } else {
                        on_timeout(msg->bhdr.channel_number, msg->bhdr.message_id);
                    }
                    break;
            }
        }
    }

    // What became of every job; true when each one is done exactly once or still waiting.
    bool report() const {
        std::cout << "jobs " << jobs_ << " done " << done_.size() << " waiting " << waiting_.size()
                  << " requeued " << requeued_ << " twice " << twice_ << std::endl;
        return done_.size() + waiting_.size() == jobs_ && twice_ == 0;
    }

private:
    struct Busy {
        std::uint64_t job;
        tofu::TimerId timer;
    };

    void on_peer(tofu::MessagePtr msg) {
        const std::uint16_t ch = msg->bhdr.channel_number;
        switch (msg->bhdr.proto.op_code) {
            case tofu::OpCode::hello_request:  // a worker: accept it and give it work
                msg->bhdr.proto.op_code = tofu::OpCode::hello_response;
                if (post(msg)) {
                    idle_.insert(ch);
                    hand_out();
                }
                break;
            case tofu::OpCode::response: on_answer(ch, *msg); break;
            default: break;
        }
    }

    // Posts to a worker; false when refused (the worker just died: its channel_closed follows).
    bool post(tofu::MessagePtr& msg) {
        std::error_code ec;
        group_.post(msg, ec);
        return !ec;
    }

    void on_answer(std::uint16_t ch, const tofu::Message& answer) {
        const auto at = busy_.find(ch);
        if (at == busy_.end() || at->second.job != answer.bhdr.message_id) {
            return;  // the answer to a job taken back from this worker
        }
        const std::uint64_t job = at->second.job;
        group_.cancel_timer(at->second.timer);
        busy_.erase(at);
        if (answer.body.text() != std::to_string(job::checksum(job))) {
            throw std::runtime_error("wrong answer to job " + std::to_string(job));
        }
        twice_ += done_.insert(job).second ? 0 : 1;
        if (done_.size() % 100 == 0) {
            std::cout << "done " << done_.size() << std::endl;
        }
        idle_.insert(ch);
        hand_out();
    }

    // A worker froze: take its job back and cut it off.
    void on_timeout(std::uint16_t ch, std::uint64_t job) {
        const auto at = busy_.find(ch);
        if (at != busy_.end() && at->second.job == job) {
            std::cout << "job " << job << " timed out" << std::endl;
            cut_off(ch, "was cut off");
        }
    }

    void cut_off(std::uint16_t ch, const char* why) {
        tofu::MessagePtr bye = engine_.get(tofu::AllocationStrategy::always);
        bye->bhdr.proto.op_code = tofu::OpCode::bye_signal;
        bye->bhdr.channel_number = ch;
        post(bye);  // it may have just died: then its channel_closed is on the way
        on_worker_gone(ch, why);
    }

    void on_worker_gone(std::uint16_t ch, const char* how) {
        idle_.erase(ch);
        if (const auto at = busy_.find(ch); at != busy_.end()) {
            group_.cancel_timer(at->second.timer);
            waiting_.push_front(at->second.job);
            ++requeued_;
            std::cout << "worker " << ch << ' ' << how << ": job " << at->second.job << " requeued"
                      << std::endl;
            busy_.erase(at);
            hand_out();
        }
    }

    void hand_out() {
        while (!stopping_ && !waiting_.empty() && !idle_.empty()) {
            const std::uint16_t ch = *idle_.begin();
            const std::uint64_t job = waiting_.front();
            tofu::MessagePtr head = engine_.get(tofu::AllocationStrategy::always);
            head->bhdr.channel_number = ch;
            head->bhdr.message_id = job;  // the job's id names its stream and its answer
            const auto sent = tofu::post_stream(engine_, group_, std::move(head), job::source(job));
            idle_.erase(ch);
            if (!sent.ok()) {  // gone, or its stream is cut short: the job goes to another worker
                cut_off(ch, "could not take a job");
                continue;
            }
            waiting_.pop_front();
            tofu::MessagePtr alarm = engine_.get(tofu::AllocationStrategy::always);
            alarm->bhdr.channel_number = ch;
            alarm->bhdr.message_id = job;
            busy_[ch] = Busy{job, group_.update_receiver(std::move(alarm), timeout_)};
        }
    }

    tofu::Ampe& engine_;
    tofu::ChannelGroup& group_;
    const std::uint64_t jobs_;
    const std::chrono::milliseconds timeout_;
    std::deque<std::uint64_t> waiting_;
    std::set<std::uint16_t> idle_;
    std::map<std::uint16_t, Busy> busy_;  // worker channel -> its job
    std::set<std::uint64_t> done_;
    std::uint64_t requeued_ = 0;
    std::uint64_t twice_ = 0;
    bool stopping_ = false;
};

std::string listen(tofu::Ampe& engine, tofu::ChannelGroup& group, const tofu::Address& where) {
    tofu::MessagePtr welcome = engine.get(tofu::AllocationStrategy::always);
    tofu::format(*welcome, where);
    group.post(welcome);
    tofu::MessagePtr ready = group.wait_receive(std::chrono::seconds{10});
    if (!ready || ready->bhdr.status != tofu::AmpeStatus::success) {
        throw std::runtime_error("cannot listen on " + tofu::to_string(where));
    }
    return std::string{*ready->thdrs.find(tofu::header::listen_on)};
}

}  // namespace

int main(int argc, char** argv) try {
    if (argc < 3) {
        std::cerr << "usage: example_job_queue_server JOBS UDS_PATH [JOB_TIMEOUT_MS]\n";
        return 2;
    }
    // post_stream waits for pool messages, and this thread is the one that frees those it receives:
    // room for every worker's job, answer and timer.
    auto engine = tofu::Reactor::create(tofu::Options{.initial_pool_msgs = 64});
    tofu::ChannelGroupPtr group = engine->create();
    tofu::StopSignals stop{*group};
    // The addresses actually bound, as the workers name them (`~listen_on` of each WelcomeResponse).
    std::cout << listen(*engine, *group, tofu::TcpServerAddress{"127.0.0.1", 0}) << std::endl;
    std::cout << listen(*engine, *group, tofu::UdsServerAddress{argv[2]}) << std::endl;
    Server server{*engine, *group, std::stoull(argv[1]),
                  std::chrono::milliseconds{argc > 3 ? std::stoi(argv[3]) : 5000}};
    server.run();
    return server.report() ? 0 : 1;
} catch (const std::exception& e) {
    std::cerr << "job_queue server: " << e.what() << '\n';
    return 1;
}

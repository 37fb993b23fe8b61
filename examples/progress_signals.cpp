// progress_signals: a long job reports its progress with Signals before its Response.
//
//   example_progress_signals
//
// The client posts two jobs (Requests: count the primes below a limit). A worker thread runs each
// job in steps; after every step it posts a Signal with the header `Progress: [N:M]` (step N of M)
// and the job's message id, and at the end one Response with the result. The client tells the jobs
// apart by message id. Messages of one channel arrive in the order they were posted, so every
// progress Signal of a job arrives before that job's Response.
#include <charconv>
#include <chrono>
#include <cstdint>
#include <exception>
#include <future>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <tofu/tofu.hpp>

using namespace std::chrono_literals;

namespace {

constexpr auto patience = 10s;  // how long we wait for any one message before giving up

tofu::MessagePtr next(tofu::ChannelGroup& group) {
    tofu::MessagePtr msg = group.wait_receive(patience);
    if (!msg) {
        throw std::runtime_error("nothing arrived in time");
    }
    // A status other than success is a report from the engine; here all but channel_closed are errors.
    if (msg->bhdr.status != tofu::AmpeStatus::success &&
        msg->bhdr.status != tofu::AmpeStatus::channel_closed) {
        throw tofu::Error{msg->bhdr.status, tofu::to_string(*msg)};  // the whole message, as one line
    }
    return msg;
}

std::uint64_t to_number(std::string_view text) {
    std::uint64_t value = 0;
    if (std::from_chars(text.data(), text.data() + text.size(), value).ec != std::errc{}) {
        throw std::runtime_error("not a number: '" + std::string{text} + "'");
    }
    return value;
}

bool is_prime(std::uint64_t n) {
    if (n < 2) {
        return false;
    }
    for (std::uint64_t d = 2; d * d <= n; ++d) {
        if (n % d == 0) {
            return false;
        }
    }
    return true;
}

// Runs one job in `steps` steps, reporting progress after each one, then answers it.
void run_job(tofu::Ampe& engine, tofu::ChannelGroup& group, tofu::MessagePtr job) {
    const std::uint64_t below = to_number(job->thdrs.find("Count-primes-below").value_or(""));
    const std::uint64_t steps = to_number(job->thdrs.find("Steps").value_or("1"));
    std::uint64_t count = 0;
    for (std::uint64_t step = 1; step <= steps; ++step) {
        for (std::uint64_t n = below * (step - 1) / steps; n < below * step / steps; ++n) {
            count += is_prime(n) ? 1 : 0;
        }
        // A Signal needs no answer. Same channel and message id as the job: the client knows whose it is.
        tofu::MessagePtr progress = engine.get(tofu::AllocationStrategy::always);
        progress->bhdr.proto.op_code = tofu::OpCode::signal;
        progress->bhdr.channel_number = job->bhdr.channel_number;
        progress->bhdr.message_id = job->bhdr.message_id;
        progress->thdrs.append("Progress", "[" + std::to_string(step) + ":" + std::to_string(steps) + "]");
        group.post(progress);
    }
    job->bhdr.proto.op_code = tofu::OpCode::response;  // the answer reuses the Request's message
    job->thdrs.reset();
    job->body.copy(std::to_string(count));
    group.post(job);
}

// Worker thread: accepts one client, runs its jobs one after the other, returns when it has gone.
void worker(tofu::Ampe& engine, tofu::ChannelGroup& group) {
    for (;;) {
        tofu::MessagePtr msg = next(group);
        const tofu::OpCode op = msg->bhdr.proto.op_code;
        if (op == tofu::OpCode::request) {
            run_job(engine, group, std::move(msg));
        } else if (op == tofu::OpCode::hello_request || op == tofu::OpCode::bye_request) {
            msg->bhdr.proto.op_code = tofu::echo(op);  // accept the client / acknowledge its goodbye
            group.post(msg);
        } else if (msg->bhdr.status == tofu::AmpeStatus::channel_closed) {
            return;
        }
    }
}

// "[N:M]" -> {N, M}
std::pair<std::uint64_t, std::uint64_t> parse_progress(std::string_view value) {
    const auto colon = value.find(':');
    if (value.size() < 5 || value.front() != '[' || value.back() != ']' || colon == std::string_view::npos) {
        throw std::runtime_error("not a progress value: '" + std::string{value} + "'");
    }
    return {to_number(value.substr(1, colon - 1)),
            to_number(value.substr(colon + 1, value.size() - colon - 2))};
}

struct Job {
    std::uint64_t below = 0;      // count the primes below this
    std::uint64_t expected = 0;   // the right answer
    std::uint64_t last_step = 0;  // progress seen so far
    std::uint64_t steps = 0;
};

int run() {
    auto engine = tofu::Reactor::create(tofu::Options{});
    tofu::ChannelGroupPtr worker_group = engine->create();
    tofu::ChannelGroupPtr client = engine->create();

    tofu::MessagePtr welcome = engine->get(tofu::AllocationStrategy::always);
    tofu::TcpServerAddress{"127.0.0.1", 0}.format(*welcome);
    worker_group->post(welcome);
    tofu::MessagePtr ready = next(*worker_group);  // throws if the listen failed
    const tofu::ParsedAddress bound = tofu::parse_address(*ready);
    const auto* tcp = std::get_if<tofu::TcpServerAddress>(&bound.address);
    if (tcp == nullptr) {
        throw std::runtime_error("the WelcomeResponse names no TCP address");
    }
    auto worker_done = std::async(std::launch::async, worker, std::ref(*engine), std::ref(*worker_group));

    tofu::MessagePtr hello = engine->get(tofu::AllocationStrategy::always);
    tofu::TcpClientAddress{"127.0.0.1", tcp->port}.format(*hello);
    const std::uint16_t channel = client->post(hello).channel_number;
    if (next(*client)->bhdr.proto.op_code != tofu::OpCode::hello_response) {
        throw std::runtime_error("not accepted");
    }

    std::map<std::uint64_t, Job> jobs;  // by message id
    for (const Job& job : {Job{100'000, 9592, 0, 4}, Job{50'000, 5133, 0, 5}}) {
        tofu::MessagePtr request = engine->get(tofu::AllocationStrategy::always);
        request->bhdr.channel_number = channel;
        request->thdrs.append("Count-primes-below", std::to_string(job.below));
        request->thdrs.append("Steps", std::to_string(job.steps));
        jobs[client->post(request).message_id] = job;
    }

    for (std::size_t done = 0; done < jobs.size();) {
        tofu::MessagePtr msg = next(*client);
        const auto it = jobs.find(msg->bhdr.message_id);
        if (it == jobs.end()) {
            throw std::runtime_error("a message for no job of ours: " + tofu::to_string(*msg));
        }
        Job& job = it->second;
        if (msg->bhdr.proto.op_code == tofu::OpCode::signal) {
            const auto [step, steps] = parse_progress(msg->thdrs.find("Progress").value_or(""));
            std::cout << "job " << it->first << ": step " << step << " of " << steps << '\n';
            if (step != job.last_step + 1 || steps != job.steps) {
                throw std::runtime_error("progress out of order");
            }
            job.last_step = step;
        } else if (msg->bhdr.proto.op_code == tofu::OpCode::response) {
            std::cout << "job " << it->first << ": " << msg->body.text() << " primes below " << job.below
                      << '\n';
            if (job.last_step != job.steps || to_number(msg->body.text()) != job.expected) {
                throw std::runtime_error("wrong result, or progress missing");
            }
            ++done;
        }
    }

    tofu::MessagePtr bye = engine->get(tofu::AllocationStrategy::always);
    bye->bhdr.proto.op_code = tofu::OpCode::bye_request;
    bye->bhdr.channel_number = channel;
    client->post(bye);
    while (next(*client)->bhdr.status != tofu::AmpeStatus::channel_closed) {
        // the ByeResponse arrives first, then channel_closed
    }
    worker_done.get();  // rethrows what went wrong in the worker
    return 0;
}

}  // namespace

int main() {
    try {
        return run();
    } catch (const tofu::Error& e) {  // what failed, and the AmpeStatus saying why
        std::cerr << "tofu error: " << e.what() << " (status " << tofu::status_name(e.status()) << ")\n";
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
    }
    return 1;
}

// job_queue worker: connects to the job queue's server, answers each job with its checksum, and
// ends when the server goes away.
//
//   example_job_queue_worker ADDRESS [--die-at N | --freeze-at N]
//
// ADDRESS is one the server printed (tcp|127.0.0.1|PORT or uds|PATH). For the test, --die-at N
// kills the worker (SIGKILL) as its Nth job arrives and --freeze-at N stops it (SIGSTOP): the
// server must re-queue that job either way.
#include <csignal>
#include <cstdint>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <system_error>

#include <tofu/stream.hpp>
#include <tofu/tofu.hpp>

#include "job.hpp"

int main(int argc, char** argv) try {
    if (argc < 2) {
        std::cerr << "usage: example_job_queue_worker ADDRESS [--die-at N | --freeze-at N]\n";
        return 2;
    }
    const std::string_view fault = argc > 3 ? argv[2] : "";
    const int fault_at = argc > 3 ? std::stoi(argv[3]) : 0;

    auto engine = tofu::Reactor::create(tofu::Options{});
    tofu::ChannelGroupPtr group = engine->create();
    tofu::MessagePtr hello = engine->get(tofu::AllocationStrategy::always);
    const tofu::ParsedAddress server = tofu::parse_address(argv[1], tofu::AddressRole::client);
    tofu::format(*hello, server.address);
    group->post(hello);

    tofu::StreamAssembler jobs{tofu::StreamLimits{.max_payload = std::size_t{256} * 1024, .max_streams = 2}};
    for (int taken = 0;;) {
        tofu::MessagePtr msg = group->wait_receive(tofu::wait_forever);
        switch (tofu::classify(*msg)) {
            case tofu::Received::from_peer: {
                tofu::StreamStep step = jobs.add(std::move(msg));
                if (!step.payload || step.payload->message().bhdr.proto.op_code != tofu::OpCode::request) {
                    break;  // a part of a job still arriving, or the HelloResponse
                }
                if (++taken == fault_at) {
                    std::raise(fault == "--die-at" ? SIGKILL : SIGSTOP);
                }
                const std::uint64_t sum = job::checksum(step.payload->bytes());
                tofu::MessagePtr answer = step.payload->take_message();
                answer->bhdr.proto.op_code = tofu::OpCode::response;  // same channel, same message id
                answer->thdrs.reset();
                answer->body.copy(std::to_string(sum));
                std::error_code ec;
                group->post(answer, ec);  // refused only when the server is gone: its report follows
                break;
            }
            case tofu::Received::report:
                if (msg->bhdr.status == tofu::AmpeStatus::channel_closed) {
                    return 0;  // the server went away
                }
                break;
            case tofu::Received::returned:  // the connect failed
                std::cerr << "worker: " << tofu::to_string(*msg) << '\n';
                return 1;
            case tofu::Received::wake_up: break;
        }
    }
} catch (const std::exception& e) {
    std::cerr << "job_queue worker: " << e.what() << '\n';
    return 1;
}

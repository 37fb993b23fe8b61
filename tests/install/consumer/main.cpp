// Uses the installed headers and library: round-trips a message through an address helper, and
// starts and stops an engine, so the link needs everything the backend needs (liburing, libkqueue).
#include <cstdio>

#include <tofu/tofu.hpp>

int main() {
    auto msg = tofu::Message::create();
    tofu::TcpClientAddress{"127.0.0.1", 7099}.format(*msg);
    const auto parsed = tofu::parse_address(*msg);
    std::printf("tofu %s: %s\n", tofu::version_string, tofu::to_string(parsed.address).c_str());
    auto engine = tofu::Reactor::create(tofu::Options{});
    const auto group = engine->create();
    std::printf("engine on %s\n", tofu::backend_name);
    return parsed && group ? 0 : 1;
}

// Uses the installed headers and library: round-trips a message through an address helper, and
// starts and stops an engine, so the link needs everything the backend needs (liburing, libkqueue).
#include <cstdio>

#include <tofu/tofu.hpp>

#if defined(TOFU_CONSUMER_EXPECTS_AFTER_CXX20)
static_assert(__cplusplus > 202002L, "the consumer asked for a standard after C++20 and did not get it");
#endif

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

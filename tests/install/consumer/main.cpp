// Uses the installed headers and library: round-trips a message through an address helper.
#include <cstdio>

#include <tofu/tofu.hpp>

int main() {
    auto msg = tofu::Message::create();
    tofu::TcpClientAddress{"127.0.0.1", 7099}.format(*msg);
    const auto parsed = tofu::parse_address(*msg);
    std::printf("tofu %s: %s\n", tofu::version_string, tofu::to_string(parsed.address).c_str());
    return parsed ? 0 : 1;
}

// The installed <tofu/asio.hpp> with nothing but tofu's flags and standalone Asio's headers: one
// message through tofu::asio::receiver.
#include <asio/io_context.hpp>

#include <cstdio>
#include <system_error>

#include <tofu/asio.hpp>
#include <tofu/tofu.hpp>

int main() {
    auto engine = tofu::Reactor::create(tofu::Options{});
    const auto group = engine->create();
    asio::io_context io;
    tofu::asio::receiver receiver{io, *group};
    group->update_receiver();
    bool received = false;
    receiver.async_receive([&](std::error_code ec, tofu::MessagePtr msg) { received = !ec && msg; });
    io.run();
    std::printf("tofu::asio::receiver: %s\n", received ? "received" : "nothing");
    return received ? 0 : 1;
}

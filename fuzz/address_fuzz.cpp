// Fuzz target: the address parser. Arbitrary text as a `~connect_to` and as a `~listen_on` value:
// a failure must come with a reason, and an address that parses must print back to a value that
// parses to the same address.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <tofu/address.hpp>
#include <tofu/status.hpp>

namespace {

void check(bool condition) {
    if (!condition) {
        std::abort();
    }
}

void parse_as(std::string_view value, tofu::AddressRole role) {
    const tofu::ParsedAddress parsed = tofu::parse_address(value, role);
    if (!parsed) {
        check(parsed.status == tofu::AmpeStatus::invalid_address && !parsed.reason.empty());
        return;
    }
    check(tofu::is_client(parsed.address) == (role == tofu::AddressRole::client));
    const tofu::ParsedAddress again = tofu::parse_address(tofu::to_string(parsed.address), role);
    check(again && again.address == parsed.address);
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's entry point
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view value{reinterpret_cast<const char*>(data), size};
    parse_as(value, tofu::AddressRole::client);
    parse_as(value, tofu::AddressRole::server);
    return 0;
}

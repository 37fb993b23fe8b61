// Fuzz target: the text-header reader. Arbitrary bytes as a message's encoded headers: every header
// read must be a trimmed name and value inside the buffer, `find` must find each name, and a header
// that `append` accepts must read back unchanged from a fresh message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include <tofu/message.hpp>
#include <tofu/status.hpp>

namespace {

void check(bool condition) {
    if (!condition) {
        std::abort();
    }
}

bool inside(std::string_view part, std::string_view whole) {
    return part.empty() ||
           (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

bool trimmed(std::string_view s) {
    const auto blank = [](char c) { return c == ' ' || c == '\t'; };
    return s.empty() || (!blank(s.front()) && !blank(s.back()));
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's entry point
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    tofu::MessagePtr msg = tofu::Message::create();
    try {
        msg->thdrs.assign_raw({reinterpret_cast<const std::byte*>(data), size});
    } catch (const tofu::Error& e) {
        check(e.status() == tofu::AmpeStatus::invalid_headers_len);  // over the part limit
        return 0;
    }
    const std::string_view all = msg->thdrs.text();
    for (const tofu::TextHeader h : msg->thdrs) {
        check(inside(h.name, all) && inside(h.value, all));
        check(trimmed(h.name) && trimmed(h.value));
        check(h.name.find_first_of(":\r\n") == std::string_view::npos);
        check(h.value.find_first_of("\r\n") == std::string_view::npos);
        check(msg->thdrs.find(h.name).has_value());

        tofu::MessagePtr copy = tofu::Message::create();
        try {
            copy->thdrs.append(h.name, h.value);
        } catch (const tofu::Error& e) {
            // An empty name; or a last line read without its CR LF that, written with one, would
            // pass the part limit.
            const std::size_t line = h.name.size() + 1 + h.value.size() + 2;
            check(e.status() == tofu::AmpeStatus::invalid_message ||
                  (e.status() == tofu::AmpeStatus::invalid_headers_len && line > tofu::max_part_size));
            continue;
        }
        auto it = copy->thdrs.begin();
        check(it != copy->thdrs.end() && (*it).name == h.name && (*it).value == h.value);
        check(++it == copy->thdrs.end());
    }
    return 0;
}

// Small text helpers shared by the header parser and the address parser.
#pragma once

#include <optional>
#include <string_view>

#include <tofu/message.hpp>

namespace tofu::detail {

/// True for the blanks tofu's text formats tolerate around names and values.
constexpr bool is_blank(char c) noexcept {
    return c == ' ' || c == '\t';
}

/// `s` without leading and trailing spaces and tabs.
constexpr std::string_view trim_blanks(std::string_view s) noexcept {
    while (!s.empty() && is_blank(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_blank(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

/// ASCII case-insensitive equality, as header names compare.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

/// One line of a text header block, without its LF (a CR before it is dropped here): the header
/// it holds, or nothing for a line readers skip (empty, no colon, no name, or a stray CR).
constexpr std::optional<TextHeader> parse_header_line(std::string_view line) noexcept {
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || line.find('\r') != std::string_view::npos) {
        return std::nullopt;
    }
    const std::string_view name = trim_blanks(line.substr(0, colon));
    if (name.empty()) {
        return std::nullopt;
    }
    return TextHeader{name, trim_blanks(line.substr(colon + 1))};
}

}  // namespace tofu::detail

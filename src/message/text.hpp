// Small text helpers shared by the header parser and the address parser.
#pragma once

#include <string_view>

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

}  // namespace tofu::detail

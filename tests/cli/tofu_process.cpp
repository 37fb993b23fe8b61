#include "cli/tofu_process.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <tofu/address.hpp>
#include <tofu/testing.hpp>

#include "cli/child_process.hpp"
#include "net/native_socket.hpp"

namespace tofu::cli_test {
namespace {

constexpr std::string_view listening_prefix = "tofu: listening on ";

bool ipv6_loopback_available() {
    detail::native::start_sockets();
    const auto fd = static_cast<int>(::socket(AF_INET6, SOCK_STREAM, 0));
    if (fd < 0) {
        return false;
    }
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_loopback;
    const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    detail::native::close_socket(fd);
    return ok;
}

template <typename Number>
std::optional<Number> number_after(std::string_view line, std::string_view key, std::size_t& pos) {
    if (line.substr(pos, key.size()) != key) {
        return std::nullopt;
    }
    pos += key.size();
    Number value{};
    const auto [end, ec] = std::from_chars(line.data() + pos, line.data() + line.size(), value);
    if (ec != std::errc{}) {
        return std::nullopt;
    }
    pos = static_cast<std::size_t>(end - line.data());
    return value;
}

/// The word from `pos` up to the next space.
std::string_view word_at(std::string_view line, std::size_t& pos) {
    const std::size_t end = std::min(line.find(' ', pos), line.size());
    const std::string_view word = line.substr(pos, end - pos);
    pos = end;
    return word;
}

/// Undoes the tool's escaping inside quotes: \\ \" \n \r \t \xHH.
std::optional<std::string> unescape(std::string_view quoted) {
    std::string out;
    for (std::size_t i = 0; i < quoted.size(); ++i) {
        if (quoted[i] != '\\') {
            out += quoted[i];
            continue;
        }
        if (++i == quoted.size()) {
            return std::nullopt;
        }
        switch (quoted[i]) {
            case '\\': out += '\\'; break;
            case '"': out += '"'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'x': {
                const auto byte = hex_decode(quoted.substr(i + 1, 2));
                if (!byte || byte->size() != 1) {
                    return std::nullopt;
                }
                out += *byte;
                i += 2;
                break;
            }
            default: return std::nullopt;
        }
    }
    return out;
}

/// Position of the `}` that closes the headers, skipping quoted values.
std::size_t headers_end(std::string_view line, std::size_t pos) {
    bool quoted = false;
    for (; pos < line.size(); ++pos) {
        const char c = line[pos];
        if (quoted && c == '\\') {
            ++pos;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (!quoted && c == '}') {
            return pos;
        }
    }
    return std::string_view::npos;
}

}  // namespace

std::string tofu_path() {
    return TOFU_CLI_PATH;
}

std::unique_ptr<ChildProcess> start_tofu(const std::vector<std::string>& args) {
    std::vector<std::string> argv{tofu_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<ChildProcess>(argv);
}

TofuRun run_tofu(const std::vector<std::string>& args, const std::string& stdin_data) {
    const std::unique_ptr<ChildProcess> child = start_tofu(args);
    child->feed_stdin_and_close(stdin_data);
    TofuRun run;
    run.exit_code = child->wait_exit();
    run.out = child->everything(Stream::out);
    run.err = child->everything(Stream::err);
    return run;
}

RunningServer start_server(const std::vector<std::string>& args) {
    RunningServer server{start_tofu(args), {}};
    server.process->feed_stdin_and_close({});
    const std::optional<std::string> first = server.process->read_line(Stream::err);
    if (!first || !first->starts_with(listening_prefix)) {
        throw std::runtime_error{"expected '" + std::string{listening_prefix} +
                                 "URL' first on stderr, got '" + first.value_or("<end of stream>") + "'"};
    }
    server.url = first->substr(listening_prefix.size());
    return server;
}

RunningServer::~RunningServer() {
    if (!process || !process->running()) {
        return;
    }
    try {
        process->send_signal(SIGTERM);
        static_cast<void>(process->wait_exit());
    } catch (const std::exception&) {
        // ChildProcess's destructor kills and reaps it.
    }
}

std::vector<Transport> available_transports() {
    std::vector<Transport> transports{Transport::tcp4};
    if (ipv6_loopback_available()) {
        transports.push_back(Transport::tcp6);
    }
    if (!testing::uds_supported()) {
        return transports;  // Wine has no AF_UNIX
    }
    transports.push_back(Transport::uds_path);
    if (has_abstract_uds) {
        transports.push_back(Transport::uds_abstract);
    }
    return transports;
}

Transport uds_or_tcp4() {
    return testing::uds_supported() ? Transport::uds_path : Transport::tcp4;
}

std::string transport_name(Transport transport) {
    switch (transport) {
        case Transport::tcp4: return "tcp4";
        case Transport::tcp6: return "tcp6";
        case Transport::uds_path: return "uds_path";
        case Transport::uds_abstract: return "uds_abstract";
    }
    return "unknown";
}

std::string transport_test_name(const ::testing::TestParamInfo<Transport>& info) {
    return transport_name(info.param);
}

std::string listen_url(Transport transport) {
    switch (transport) {
        case Transport::tcp4: return "tcp://127.0.0.1:0";
        case Transport::tcp6: return "tcp://[::1]:0";
        case Transport::uds_path: return "uds://" + testing::temp_uds_path("tofu-cli");
        case Transport::uds_abstract: return "uds://" + testing::temp_abstract_name("tofu-cli");
    }
    return {};
}

TempFile::TempFile(std::string_view bytes) : path_{testing::temp_uds_path("tofu-cli-data")} {
    // temp_uds_path gives a unique name in the temporary directory; the file is plain data.
    std::FILE* file = std::fopen(path_.c_str(), "wb");
    if (file == nullptr) {
        throw std::system_error{errno, std::generic_category(), "fopen " + path_};
    }
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
    std::fclose(file);
    if (!ok) {
        throw std::runtime_error{"cannot write " + path_};
    }
}

TempFile::~TempFile() {
    std::remove(path_.c_str());
}

std::string binary_pattern(std::size_t n, std::uint32_t seed) {
    std::string bytes(n, '\0');
    std::uint32_t state = seed * 2654435761U + 1U;
    for (char& b : bytes) {
        state = state * 1664525U + 1013904223U;  // a linear congruential generator: any byte value
        b = static_cast<char>(state >> 24U);
    }
    return bytes;
}

std::vector<std::string> lines_of(std::string_view text) {
    std::vector<std::string> lines;
    while (!text.empty()) {
        const std::size_t newline = text.find('\n');
        lines.emplace_back(text.substr(0, newline));
        text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    }
    return lines;
}

std::optional<TextLine> parse_text_line(std::string_view line) {
    TextLine parsed;
    std::size_t pos = 0;
    parsed.op = word_at(line, pos);
    const auto channel = number_after<std::uint16_t>(line, " ch=", pos);
    const auto id = number_after<std::uint64_t>(line, " id=", pos);
    const auto more = number_after<unsigned>(line, " more=", pos);
    if (!channel || !id || !more || *more > 1 || line.substr(pos, 8) != " origin=") {
        return std::nullopt;
    }
    parsed.channel = *channel;
    parsed.id = *id;
    parsed.more = *more == 1;
    pos += 8;
    parsed.origin = word_at(line, pos);
    if (line.substr(pos, 8) == " status=") {
        pos += 8;
        parsed.status = word_at(line, pos);
    }
    if (line.substr(pos, 9) != " headers{") {
        return std::nullopt;
    }
    pos += 9;
    const std::size_t close = headers_end(line, pos);
    if (close == std::string_view::npos) {
        return std::nullopt;
    }
    parsed.headers = line.substr(pos, close - pos);
    pos = close + 1;
    const auto size = number_after<std::size_t>(line, " body[", pos);
    if (!size || line.substr(pos, 2) != "]=") {
        return std::nullopt;
    }
    parsed.body_size = *size;
    std::string_view body = line.substr(pos + 2);
    parsed.truncated = body.ends_with("...");
    if (parsed.truncated) {
        body.remove_suffix(3);
    }
    std::optional<std::string> bytes;
    if (body.starts_with("hex:")) {
        bytes = hex_decode(body.substr(4));
    } else if (body.size() >= 2 && body.front() == '"' && body.back() == '"') {
        bytes = unescape(body.substr(1, body.size() - 2));
    }
    if (!bytes) {
        return std::nullopt;
    }
    parsed.body = std::move(*bytes);
    return parsed;
}

std::optional<std::string> hex_decode(std::string_view hex) {
    if (hex.size() % 2 != 0) {
        return std::nullopt;
    }
    std::string bytes;
    bytes.reserve(hex.size() / 2);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, value, 16);
        if (ec != std::errc{} || end != hex.data() + i + 2) {
            return std::nullopt;
        }
        bytes += static_cast<char>(value);
    }
    return bytes;
}

}  // namespace tofu::cli_test

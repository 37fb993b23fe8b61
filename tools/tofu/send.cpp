// `tofu send ADDR [--request|--signal] [--header NAME:VALUE]... [--data TEXT | --file PATH]`.
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "client.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "print.hpp"
#include "tls_flags.hpp"
#include "url.hpp"

namespace tofu::cli {
namespace {

std::string_view trim(std::string_view s) noexcept {
    const std::size_t first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

/// Reads every `--header NAME:VALUE`, checking each the way tofu will when it is sent.
std::vector<HeaderField> parse_headers(const std::vector<std::string>& texts) {
    std::vector<HeaderField> fields;
    const MessagePtr probe = Message::create();
    for (const std::string& text : texts) {
        const std::string subject = "--header " + text;
        const std::size_t colon = text.find(':');
        if (colon == std::string::npos) {
            throw usage_error(AmpeStatus::invalid_message, subject, "expected NAME:VALUE");
        }
        const std::string_view name = trim(std::string_view{text}.substr(0, colon));
        const std::string_view value = trim(std::string_view{text}.substr(colon + 1));
        if (is_reserved_header(name)) {
            throw usage_error(AmpeStatus::invalid_message, subject,
                              "names starting with ~ are reserved for tofu");
        }
        try {
            probe->thdrs.append(name, value);
        } catch (const Error& e) {
            throw usage_error(e.status(), subject, "not a valid text header");
        }
        fields.emplace_back(name, value);
    }
    return fields;
}

/// Reads all of `file` (stdin when null) as bytes.
std::string read_all(std::FILE* file) {
    std::string data;
    char buffer[65536];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
        data.append(buffer, n);
    }
    return data;
}

std::string load_data(const SendOptions& options) {
    if (options.data_given) {
        return options.data;
    }
    if (!options.file_given) {
        return read_all(stdin);
    }
    std::FILE* file = std::fopen(options.file.c_str(), "rb");
    if (file == nullptr) {
        throw CommandError{exit_usage, describe_failure("cannot read", options.file,
                                                        std::generic_category().message(errno))};
    }
    std::string data = read_all(file);
    const bool failed = std::ferror(file) != 0;
    std::fclose(file);
    if (failed) {
        throw CommandError{exit_usage, describe_failure("cannot read", options.file, "read error")};
    }
    return data;
}

}  // namespace

int run_send(const SendOptions& options) {
    const Address address = address_from_url(options.url, AddressRole::client);
    check_tls_flags(address, options.url, options.tls);
    const std::vector<HeaderField> headers = parse_headers(options.headers);
    const std::string data = load_data(options);

    const std::unique_ptr<Reactor> engine = Reactor::create(engine_options(options.tls));
    const ChannelGroupPtr group = engine->create();
    ClientSession session{
        *engine, *group, options.url,
        PrintStyle{options.json ? OutputFormat::json : OutputFormat::text, options.max_body}};
    session.connect(address);
    const OpCode op = options.request ? OpCode::request : OpCode::signal;
    const std::uint64_t message_id = session.send(op, headers, data);
    if (options.request) {
        session.await_answer(message_id);
    }
    session.close();
    return exit_success;
}

}  // namespace tofu::cli

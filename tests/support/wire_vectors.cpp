#include "support/wire_vectors.hpp"

#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>

namespace tofu::test {
namespace {

OpCode op_code_named(const std::string& name) {
    for (std::uint8_t i = 0; i <= max_op_code; ++i) {
        if (op_code_name(static_cast<OpCode>(i)) == name) {
            return static_cast<OpCode>(i);
        }
    }
    throw std::runtime_error{"wire vectors: unknown op code " + name};
}

unsigned hex_digit(char c) {
    if (c >= '0' && c <= '9') {
        return static_cast<unsigned>(c - '0');
    }
    if (c >= 'a' && c <= 'f') {
        return static_cast<unsigned>(c - 'a' + 10);
    }
    if (c >= 'A' && c <= 'F') {
        return static_cast<unsigned>(c - 'A' + 10);
    }
    throw std::runtime_error{std::string{"not a hex digit: "} + c};
}

WireVectors load() {
    const std::string path = std::string{TOFU_TEST_DATA_DIR} + "/wire_vectors.json";
    std::ifstream in{path, std::ios::binary};
    if (!in) {
        throw std::runtime_error{"cannot open " + path};
    }
    const std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
    const auto json = nlohmann::json::parse(text);
    WireVectors out;
    for (const auto& v : json.at("valid")) {
        ValidVector vec;
        vec.name = v.at("name").get<std::string>();
        const auto& f = v.at("fields");
        vec.header.channel_number = f.at("channel_number").get<std::uint16_t>();
        vec.header.proto.op_code = op_code_named(f.at("op_code").get<std::string>());
        vec.header.proto.origin = f.at("origin").get<int>() != 0 ? Origin::engine : Origin::application;
        vec.header.proto.more = f.at("more").get<int>() != 0;
        vec.header.proto.oob = f.at("oob").get<int>() != 0;
        vec.header.status = status_from_raw(f.at("status").get<std::uint8_t>());
        vec.header.message_id = f.at("message_id").get<std::uint64_t>();
        vec.text_headers = from_hex(v.at("text_headers_hex").get<std::string>());
        vec.body = from_hex(v.at("body_hex").get<std::string>());
        vec.header.text_headers_len = static_cast<std::uint16_t>(vec.text_headers.size());
        vec.header.body_len = static_cast<std::uint16_t>(vec.body.size());
        vec.frame = from_hex(v.at("frame_hex").get<std::string>());
        out.valid.push_back(std::move(vec));
    }
    for (const auto& v : json.at("invalid_from_wire")) {
        out.invalid_from_wire.push_back(InvalidVector{v.at("name").get<std::string>(),
                                                      v.at("why").get<std::string>(),
                                                      from_hex(v.at("frame_hex").get<std::string>())});
    }
    return out;
}

}  // namespace

std::vector<std::byte> from_hex(const std::string& hex) {
    if (hex.size() % 2 != 0) {
        throw std::runtime_error{"odd hex length"};
    }
    std::vector<std::byte> out(hex.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = static_cast<std::byte>((hex_digit(hex[2 * i]) << 4U) | hex_digit(hex[(2 * i) + 1]));
    }
    return out;
}

const WireVectors& wire_vectors() {
    static const WireVectors vectors = load();
    return vectors;
}

}  // namespace tofu::test

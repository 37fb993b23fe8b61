// Loads the golden wire frames (tests/data/wire_vectors.json, a copy of shared/wire/vectors.json).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <tofu/message.hpp>

namespace tofu::test {

struct ValidVector {
    std::string name;
    BinaryHeader header;  ///< fields as listed (lengths from the text headers and body)
    std::vector<std::byte> text_headers;
    std::vector<std::byte> body;
    std::vector<std::byte> frame;
};

struct InvalidVector {
    std::string name;
    std::string why;
    std::vector<std::byte> frame;
};

struct WireVectors {
    std::vector<ValidVector> valid;
    std::vector<InvalidVector> invalid_from_wire;
};

/// The vectors, parsed once.
const WireVectors& wire_vectors();

/// Bytes from a hex string.
std::vector<std::byte> from_hex(const std::string& hex);

}  // namespace tofu::test

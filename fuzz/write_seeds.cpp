// Writes the seed corpora of the fuzz targets from the golden wire vectors:
//   write_seeds <out-dir>  ->  <out-dir>/<target>/<seed name>
// Each target starts from inputs that reach deep: whole frames for the decoders, the vectors' text
// headers for the header reader, the address forms of DESIGN.md for the address parser.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "support/wire_vectors.hpp"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::byte>;

void write(const fs::path& dir, const std::string& name, std::span<const std::byte> bytes) {
    fs::create_directories(dir);
    std::ofstream out{dir / name, std::ios::binary | std::ios::trunc};
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

Bytes concat(std::initializer_list<std::span<const std::byte>> parts) {
    Bytes out;
    for (const auto part : parts) {
        out.insert(out.end(), part.begin(), part.end());
    }
    return out;
}

/// A confirmation frame (op code 10, the count in the message id; docs/wire.md).
Bytes confirmation(std::uint64_t count) {
    Bytes frame(16);
    frame[2] = std::byte{10};
    for (int i = 0; i < 8; ++i) {
        frame[11 - i] = static_cast<std::byte>((count >> (8 * i)) & 0xFFU);
    }
    return frame;
}

/// The golden Hello with the engines' confirmation offer added to its text headers.
Bytes hello_offering(const tofu::test::ValidVector& hello) {
    constexpr std::string_view offer = "~confirm:1\r\n";
    const std::size_t headers = hello.text_headers.size() + offer.size();
    Bytes frame(hello.frame.begin(), hello.frame.begin() + 16);
    frame[12] = static_cast<std::byte>(headers >> 8U);
    frame[13] = static_cast<std::byte>(headers & 0xFFU);
    return concat({frame, hello.text_headers, std::as_bytes(std::span{offer}), hello.body});
}

/// An engine recipe (engine_fuzz.cpp): "XPND", then records of a 16-bit count, an 8-bit length and
/// that many bytes.
class Recipe {
public:
    Recipe& add(std::span<const std::byte> bytes, std::uint16_t count = 1) {
        for (std::size_t at = 0; at < bytes.size(); at += 255) {
            const std::span<const std::byte> chunk =
                bytes.subspan(at, std::min<std::size_t>(255, bytes.size() - at));
            out_.push_back(static_cast<std::byte>(count >> 8U));
            out_.push_back(static_cast<std::byte>(count & 0xFFU));
            out_.push_back(static_cast<std::byte>(chunk.size()));
            out_.insert(out_.end(), chunk.begin(), chunk.end());
        }
        return *this;
    }
    Recipe& add(std::string_view text, std::uint16_t count = 1) {
        return add(std::as_bytes(std::span{text}), count);
    }
    [[nodiscard]] const Bytes& bytes() const noexcept { return out_; }

private:
    Bytes out_{std::byte{'X'}, std::byte{'P'}, std::byte{'N'}, std::byte{'D'}};
};

/// A 16-byte frame header.
Bytes header(std::uint8_t op, std::uint64_t id, std::size_t headers_len, std::size_t body_len) {
    Bytes h(16);
    h[1] = std::byte{1};
    h[2] = static_cast<std::byte>(op);
    for (int i = 0; i < 8; ++i) {
        h[11 - i] = static_cast<std::byte>((id >> (8 * i)) & 0xFFU);
    }
    h[12] = static_cast<std::byte>(headers_len >> 8U);
    h[13] = static_cast<std::byte>(headers_len & 0xFFU);
    h[14] = static_cast<std::byte>(body_len >> 8U);
    h[15] = static_cast<std::byte>(body_len & 0xFFU);
    return h;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: write_seeds <out-dir>\n");
        return 2;
    }
    const fs::path out{argv[1]};
    const auto& vectors = tofu::test::wire_vectors();
    const Bytes& hello = vectors.valid.front().frame;  // hello_tcp: a client's first frame

    Bytes all_valid;
    for (const auto& v : vectors.valid) {
        all_valid.insert(all_valid.end(), v.frame.begin(), v.frame.end());
        const Bytes whole_cut{std::byte{0}};  // first byte 0: decode in 1-byte pieces
        const Bytes odd_cut{std::byte{0x5b}};
        write(out / "frame_decoder", v.name + "_bytewise", concat({whole_cut, v.frame}));
        write(out / "frame_decoder", v.name + "_pieces", concat({odd_cut, v.frame}));
        write(out / "text_headers", v.name, v.text_headers);
        write(out / "engine", "hello_then_" + v.name, concat({hello, v.frame}));
    }
    for (const auto& v : vectors.invalid_from_wire) {
        write(out / "frame_decoder", "invalid_" + v.name, concat({Bytes{std::byte{0x21}}, v.frame}));
        write(out / "engine", "invalid_first_" + v.name, v.frame);
        write(out / "engine", "hello_then_invalid_" + v.name, concat({hello, v.frame}));
    }
    write(out / "frame_decoder", "all_valid", concat({Bytes{std::byte{0x13}}, all_valid}));
    write(out / "engine", "hello_then_all_valid", all_valid);

    // A TLS listener's first bytes: a plaintext tofu peer, another protocol, and the start of a
    // TLS record (handshake, ClientHello) for the fuzzer to grow.
    write(out / "tls_listener", "plaintext_hello", hello);
    write(out / "tls_listener", "plaintext_all_valid", all_valid);
    const std::string http = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    write(out / "tls_listener", "http", std::as_bytes(std::span{http}));
    const Bytes client_hello_start{std::byte{0x16}, std::byte{0x03}, std::byte{0x01}, std::byte{0x00},
                                   std::byte{0x2f}, std::byte{0x01}, std::byte{0x00}, std::byte{0x00},
                                   std::byte{0x2b}, std::byte{0x03}, std::byte{0x03}};
    write(out / "tls_listener", "client_hello_start", client_hello_start);

    // Confirmations: accepted by the decoder when the cut byte's high bit is set, and by an
    // engine whose client offered them in its Hello.
    Bytes confirmed;
    std::uint64_t frames = 0;
    for (const auto& v : vectors.valid) {
        confirmed.insert(confirmed.end(), v.frame.begin(), v.frame.end());
        const Bytes c = confirmation(++frames);
        confirmed.insert(confirmed.end(), c.begin(), c.end());
    }
    write(out / "frame_decoder", "confirmations_whole", concat({Bytes{std::byte{0x80}}, confirmed}));
    write(out / "frame_decoder", "confirmations_pieces", concat({Bytes{std::byte{0x93}}, confirmed}));
    const Bytes offering = hello_offering(vectors.valid.front());
    write(out / "engine", "hello_offering_then_confirmations",
          concat({offering, confirmation(1), vectors.valid[2].frame, confirmation(1), confirmation(0)}));
    write(out / "engine", "hello_offering_then_all_valid", concat({offering, all_valid}));

    // Recipes for text header blocks at their limit (issue 26): a Hello leaving no room for ~peer,
    // and bare-LF lines beside a ~ header that rewriting with CR LF once grew past the limit.
    constexpr std::size_t limit = 65535;
    write(out / "engine", "recipe_hello_at_the_header_limit",
          Recipe{}
              .add(header(3, 1, limit - 5, 0))
              .add("k:vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\r\n", (limit - 5) / 47)
              .add(std::string((limit - 5) % 47, 'v'))
              .bytes());
    write(out / "engine", "recipe_bare_line_feeds_at_the_limit",
          Recipe{}.add(hello).add(header(2, 5, 3 + 3 * 21844, 0)).add("~:\n").add("a:\n", 21844).bytes());

    const std::string_view addresses[] = {
        "tcp|127.0.0.1|7099", "tcp|0.0.0.0|0",  "tcp|::1|7099",   "tcp|localhost|80",
        "uds|/tmp/a.sock",    "uds|@tofu-name", "tcp|[::1]|7099", "tcp|1.2.3.4|65535",
    };
    int i = 0;
    for (const std::string_view a : addresses) {
        write(out / "address", "address_" + std::to_string(i++), std::as_bytes(std::span{a}));
    }
    return 0;
}

#include "net/plain_stream.hpp"

namespace tofu::detail {

PlainStream& PlainStream::shared() noexcept {
    static PlainStream stream;
    return stream;
}

IoResult PlainStream::read(const Socket& s, std::span<std::byte> into) noexcept {
    return read_some(s, into);
}

IoResult PlainStream::peek(const Socket& s, std::span<std::byte> into) noexcept {
    return peek_some(s, into);
}

IoResult PlainStream::write(const Socket& s, std::span<const native::IoSlice> parts) noexcept {
    return write_vectored(s, parts);
}

void PlainStream::shutdown_send(const Socket& s) noexcept {
    detail::shutdown_send(s);
}

}  // namespace tofu::detail

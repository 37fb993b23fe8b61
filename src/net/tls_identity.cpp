#include "net/tls_identity.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>

#include "message/reserved_headers.hpp"

namespace tofu::detail {
namespace {

/// A name longer than this is cut: a certificate's names are the peer's choice.
constexpr std::size_t max_name = 1024;
/// The most subject alternative names reported.
constexpr int max_names = 64;

struct FreeBio {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct FreeX509 {
    void operator()(X509* x) const noexcept { X509_free(x); }
};
struct FreeNames {
    void operator()(GENERAL_NAMES* n) const noexcept { GENERAL_NAMES_free(n); }
};

/// `text` (escaped) cut to at most `keep` bytes, never inside an escape (`\,` or `\XX`), and said
/// to be cut: "..." follows.
std::string cut_escaped(std::string_view text, std::size_t keep) {
    std::size_t end = 0;
    while (end < text.size()) {
        std::size_t step = 1;
        if (text[end] == '\\') {
            const bool hex =
                end + 1 < text.size() && std::isxdigit(static_cast<unsigned char>(text[end + 1])) != 0;
            step = hex ? 3 : 2;
        }
        if (end + step > keep) {
            break;
        }
        end += step;
    }
    return std::string{text.substr(0, end)} + "...";
}

/// The subject as RFC 4514 writes it (OpenSSL's RFC 2253 form: specials, control bytes and bytes
/// past ASCII escaped), cut at `max_name`.
std::string subject_of(X509* cert) {
    const std::unique_ptr<BIO, FreeBio> out{BIO_new(BIO_s_mem())};
    if (out == nullptr ||
        X509_NAME_print_ex(out.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) {
        return {};
    }
    char* data = nullptr;
    const long size = BIO_get_mem_data(out.get(), &data);
    const std::string subject{data, static_cast<std::size_t>(std::max(size, 0L))};
    return escape_rfc4514(subject.size() > max_name ? cut_escaped(subject, max_name) : subject, true);
}

std::string ia5_text(const ASN1_IA5STRING* s) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL's bytes are unsigned chars
    const std::string_view raw{reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                               static_cast<std::size_t>(ASN1_STRING_length(s))};
    return raw.size() > max_name ? escape_rfc4514(raw.substr(0, max_name)) + "..." : escape_rfc4514(raw);
}

std::string ip_text(const ASN1_OCTET_STRING* s) {
    const int length = ASN1_STRING_length(s);
    const int family = length == 4 ? AF_INET : length == 16 ? AF_INET6 : 0;
    if (family == 0) {
        return {};
    }
    std::array<char, INET6_ADDRSTRLEN> text{};
    if (::inet_ntop(family, ASN1_STRING_get0_data(s), text.data(), text.size()) == nullptr) {
        return {};
    }
    return text.data();
}

/// Whether `name` is of a kind reported (`name_text` may still find an IP address malformed).
bool is_reported(const GENERAL_NAME* name) {
    return name->type == GEN_DNS || name->type == GEN_EMAIL || name->type == GEN_URI ||
           name->type == GEN_IPADD;
}

/// One subject alternative name as `KIND:value`, or empty for kinds not reported.
std::string name_text(const GENERAL_NAME* name) {
    switch (name->type) {
        case GEN_DNS: return "DNS:" + ia5_text(name->d.dNSName);
        case GEN_EMAIL: return "email:" + ia5_text(name->d.rfc822Name);
        case GEN_URI: return "URI:" + ia5_text(name->d.uniformResourceIdentifier);
        case GEN_IPADD: {
            std::string ip = ip_text(name->d.iPAddress);
            return ip.empty() ? std::string{} : "IP:" + ip;
        }
        default: return {};
    }
}

std::string ktls_text(SSL* ssl) {
#if defined(BIO_get_ktls_send) && defined(BIO_get_ktls_recv)
    const bool send = BIO_get_ktls_send(SSL_get_wbio(ssl)) != 0;
    const bool receive = BIO_get_ktls_recv(SSL_get_rbio(ssl)) != 0;
    if (send || receive) {
        return send && receive ? "send,receive" : send ? "send" : "receive";
    }
#else
    (void)ssl;
#endif
    return "off";
}

}  // namespace

std::string escape_rfc4514(std::string_view value, bool escaped_already) {
    static constexpr std::string_view hex = "0123456789ABCDEF";
    std::string out;
    out.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) {
        const auto c = static_cast<unsigned char>(value[i]);
        if (c < 0x20 || c == 0x7f) {
            out += '\\';
            out += hex[c >> 4U];
            out += hex[c & 0xfU];
            continue;
        }
        const bool special =
            std::string_view{",+\"\\<>;="}.find(static_cast<char>(c)) != std::string_view::npos;
        const bool edge = (i == 0 && (c == '#' || c == ' ')) || (i + 1 == value.size() && c == ' ');
        if (!escaped_already && (special || edge)) {
            out += '\\';
        }
        out += static_cast<char>(c);
    }
    return out;
}

bool append_tls_identity(SSL* ssl, TextHeaders& headers, bool verified, std::size_t reserve) noexcept {
    try {
        // Each line must leave `reserve` bytes of the block free (for the headers after it).
        const std::size_t limit = max_part_size - std::min(reserve, max_part_size);
        const auto fits = [&](std::string_view name, std::string_view value) {
            return headers.size() + name.size() + value.size() + 3 <= limit;  // name:value CR LF
        };
        const std::unique_ptr<X509, FreeX509> cert{SSL_get1_peer_certificate(ssl)};
        if (verified && cert != nullptr && SSL_get_verify_result(ssl) == X509_V_OK) {
            const std::string subject = subject_of(cert.get());
            if (!fits(header::peer_subject, subject) ||
                !append_header(headers, header::peer_subject, subject)) {
                return false;
            }
            const std::unique_ptr<GENERAL_NAMES, FreeNames> names{static_cast<GENERAL_NAMES*>(
                X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr))};
            const int total = names != nullptr ? sk_GENERAL_NAME_num(names.get()) : 0;
            const auto reported_after = [&](int i) {
                for (int j = i + 1; j < total; ++j) {
                    if (is_reported(sk_GENERAL_NAME_value(names.get(), j))) {
                        return true;
                    }
                }
                return false;
            };
            int reported = 0;
            for (int i = 0; i < total && reported < max_names; ++i) {
                const std::string text = name_text(sk_GENERAL_NAME_value(names.get(), i));
                if (text.empty()) {
                    continue;
                }
                ++reported;
                const bool last_of_many = reported == max_names && reported_after(i);
                if (last_of_many || !fits(header::peer_san, text)) {
                    // The last one, cut to fit if it must, and said to be the last: no more after it.
                    const std::size_t room =
                        limit - std::min(limit, headers.size() + header::peer_san.size() + 3);
                    if (room > 3) {
                        (void)append_header(headers, header::peer_san, cut_escaped(text, room - 3));
                    }
                    break;
                }
                (void)append_header(headers, header::peer_san, text);
            }
        }
        const std::string tls = std::string{SSL_get_version(ssl)} + " " + SSL_get_cipher_name(ssl);
        if (fits(header::tls, tls)) {
            (void)append_header(headers, header::tls, tls);
            if (const std::string ktls = ktls_text(ssl); fits(header::tls_ktls, ktls)) {
                (void)append_header(headers, header::tls_ktls, ktls);
            }
        }
        return true;
    } catch (...) {
        return false;  // out of memory: as if it did not fit
    }
}

}  // namespace tofu::detail

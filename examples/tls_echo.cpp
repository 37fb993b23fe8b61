// tls_echo: a server and a client over TLS with client certificates (mutual TLS), and the access
// decision a server makes on the verified name of its client.
//
//   example_tls_echo
//
// One process, two engines, as two programs would have: each side's certificate, key and trusted
// CA are its engine's `Options::tls`. No keys are checked in: the program first makes a throwaway
// CA and two certificates (ECDSA P-256) in a temporary directory. Yours come from your PKI, or
// from the openssl commands in docs/security.md.
//
// The server's listener is given a CA, so it requires a client certificate signed by it. The
// HelloRequest it delivers carries the client certificate's verified names (`~peer_subject`,
// `~peer_san`); the server accepts the client only if it is the one it expects. The client sees the
// server's names on its HelloResponse, sends one Request, prints the answer and closes gracefully.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <future>
#include <iostream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include <tofu/tofu.hpp>

using namespace std::chrono_literals;

namespace {

constexpr auto patience = 10s;  // how long we wait for any one message before giving up
constexpr std::string_view expected_client = "CN=example client,O=tofu example";

// --- A throwaway PKI (OpenSSL 3), so that the example needs no files -------------------------------

struct FreeKey {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct FreeCert {
    void operator()(X509* c) const noexcept { X509_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, FreeKey>;
using Cert = std::unique_ptr<X509, FreeCert>;

void check(bool ok, const char* what) {
    if (!ok) {
        throw std::runtime_error(std::string{"making the certificates: "} + what + " failed");
    }
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    check(ext != nullptr && X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
    X509_EXTENSION_free(ext);
}

// A certificate for `key` named `cn`, valid for a day, signed by `issuer` (itself when null). A CA
// when `san` is null, else a leaf with these subject alternative names.
Cert certify(EVP_PKEY* key, const char* cn, const char* san, X509* issuer, EVP_PKEY* issuer_key) {
    static long serial = 1;
    Cert cert{X509_new()};
    check(cert != nullptr, "X509_new");
    X509_set_version(cert.get(), 2);  // v3
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL takes unsigned chars
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("tofu example"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn), -1, -1,
                               0);
    // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
    X509* signer = issuer != nullptr ? issuer : cert.get();
    X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
    if (san == nullptr) {
        add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
        add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
        add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
        add_extension(cert.get(), signer, NID_subject_alt_name, san);
    }
    check(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

void write_pem(const std::filesystem::path& path, X509* cert, EVP_PKEY* key) {
    FILE* f = std::fopen(path.string().c_str(), "w");
    check(f != nullptr, "fopen");
    const int ok = cert != nullptr ? PEM_write_X509(f, cert)
                                   : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    check(ok == 1, "PEM_write");
}

// Makes ca.crt, server.crt/.key (names: 127.0.0.1 and localhost) and client.crt/.key in `dir`.
void make_certificates(const std::filesystem::path& dir) {
    const Key ca_key{EVP_EC_gen("P-256")};
    check(ca_key != nullptr, "EVP_EC_gen");
    const Cert ca = certify(ca_key.get(), "tofu example CA", nullptr, nullptr, nullptr);
    write_pem(dir / "ca.crt", ca.get(), nullptr);
    const auto issue = [&](const char* file, const char* cn, const char* san) {
        const Key key{EVP_EC_gen("P-256")};
        check(key != nullptr, "EVP_EC_gen");
        write_pem(dir / (std::string{file} + ".crt"),
                  certify(key.get(), cn, san, ca.get(), ca_key.get()).get(), nullptr);
        write_pem(dir / (std::string{file} + ".key"), nullptr, key.get());
    };
    issue("server", "example server", "IP:127.0.0.1,DNS:localhost");
    issue("client", "example client", "DNS:client.example,email:client@example.com");
}

// --- tofu --------------------------------------------------------------------------------------------

tofu::MessagePtr next(tofu::ChannelGroup& group) {
    tofu::MessagePtr msg = group.wait_receive(patience);
    if (!msg) {
        throw std::runtime_error("nothing arrived in time");
    }
    // A failed listen or connect comes back with a status and `~detail` saying why, e.g.
    // "TLS handshake failed: certificate verify failed: certificate has expired".
    if (msg->bhdr.status != tofu::AmpeStatus::success &&
        msg->bhdr.status != tofu::AmpeStatus::channel_closed) {
        throw tofu::Error{msg->bhdr.status, tofu::to_string(*msg)};
    }
    return msg;
}

// Prints what the engine says of the peer: only it writes these headers (a peer cannot send `~`
// headers), and only for a certificate it verified.
void print_peer(std::string_view who, const tofu::Message& msg) {
    for (const tofu::TextHeader h : msg.thdrs) {
        if (h.name == tofu::header::peer_subject || h.name == tofu::header::peer_san ||
            h.name == tofu::header::tls) {
            std::cout << who << ": " << h.name << ": " << h.value << '\n';
        }
    }
}

// Server thread: accepts the expected client (refuses any other), echoes its Requests, and ends
// when the client has closed.
void server(tofu::ChannelGroup& group) {
    for (;;) {
        tofu::MessagePtr msg = next(group);
        switch (msg->bhdr.proto.op_code) {
            case tofu::OpCode::hello_request: {
                print_peer("server", *msg);
                const bool known = msg->thdrs.find(tofu::header::peer_subject) == expected_client;
                // Accept with a HelloResponse; refuse with a ByeSignal (the client's HelloRequest
                // comes back with peer_disconnected).
                msg->bhdr.proto.op_code = known ? tofu::OpCode::hello_response : tofu::OpCode::bye_signal;
                group.post(msg);
                break;
            }
            case tofu::OpCode::request:
            case tofu::OpCode::bye_request:
                msg->bhdr.proto.op_code = tofu::echo(msg->bhdr.proto.op_code);  // answer with the same body
                group.post(msg);
                break;
            case tofu::OpCode::signal:
                if (msg->bhdr.status == tofu::AmpeStatus::channel_closed) {
                    return;  // the client is gone
                }
                break;
            default: break;
        }
    }
}

int run() {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("tofu-tls-echo-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
    struct Remove {
        std::filesystem::path dir;
        ~Remove() {
            std::error_code ignored;
            std::filesystem::remove_all(dir, ignored);
        }
    } const remove{dir};
    make_certificates(dir);
    const auto file = [&](const char* name) { return (dir / name).string(); };

    // Each side: its certificate and key, and the CA it trusts to sign the other side's.
    tofu::Options server_options;
    server_options.tls = {
        .certificate_chain = file("server.crt"), .private_key = file("server.key"), .ca = file("ca.crt")};
    tofu::Options client_options;
    client_options.tls = {
        .certificate_chain = file("client.crt"), .private_key = file("client.key"), .ca = file("ca.crt")};
    auto server_engine = tofu::Reactor::create(server_options);
    auto client_engine = tofu::Reactor::create(client_options);
    tofu::ChannelGroupPtr server_group = server_engine->create();
    tofu::ChannelGroupPtr client_group = client_engine->create();

    tofu::MessagePtr welcome = server_engine->get(tofu::AllocationStrategy::always);
    tofu::TlsServerAddress{"127.0.0.1", 0}.format(*welcome);  // port 0: the OS chooses
    server_group->post(welcome);
    const tofu::ParsedAddress bound = tofu::parse_address(*next(*server_group));
    const std::uint16_t port = std::get<tofu::TlsServerAddress>(bound.address).port;
    auto server_done = std::async(std::launch::async, server, std::ref(*server_group));

    // The client checks that the server's certificate names 127.0.0.1 (an IP SAN).
    tofu::MessagePtr hello = client_engine->get(tofu::AllocationStrategy::always);
    tofu::TlsClientAddress{"127.0.0.1", port}.format(*hello);
    const std::uint16_t channel = client_group->post(hello).channel_number;
    tofu::MessagePtr response = next(*client_group);
    if (response->bhdr.proto.op_code != tofu::OpCode::hello_response) {
        throw std::runtime_error("the server refused us: " + tofu::to_string(*response));
    }
    print_peer("client", *response);

    tofu::MessagePtr request = client_engine->get(tofu::AllocationStrategy::always);
    request->bhdr.channel_number = channel;
    request->body.copy("hello over TLS");
    client_group->post(request);
    tofu::MessagePtr answer = next(*client_group);
    std::cout << "client: the server answered \"" << answer->body.text() << "\"\n";

    tofu::MessagePtr bye = client_engine->get(tofu::AllocationStrategy::always);
    bye->bhdr.proto.op_code = tofu::OpCode::bye_request;  // graceful: TLS close_notify is sent too
    bye->bhdr.channel_number = channel;
    client_group->post(bye);
    while (next(*client_group)->bhdr.status != tofu::AmpeStatus::channel_closed) {
        // the ByeResponse arrives first, then channel_closed
    }
    server_done.get();  // rethrows what went wrong in the server thread
    return answer->body.text() == "hello over TLS" ? 0 : 1;
}

}  // namespace

int main() {
    try {
        return run();
    } catch (const tofu::Error& e) {  // what failed, and the AmpeStatus saying why
        std::cerr << "tofu error: " << e.what() << " (status " << tofu::status_name(e.status()) << ")\n";
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
    }
    return 1;
}

#include "support/tls_pki.hpp"

#include <string>
#include <vector>

#include "pki/throwaway_pki.hpp"

namespace tofu::test {
namespace {

TlsPki make_pki(pki::ThrowawayPki& files) {
    TlsPki pki;
    pki.dir = files.dir();
    pki.ca = files.add_ca("ca", "tofu test CA");
    pki.other_ca = files.add_ca("other-ca", "tofu other CA");
    const std::string server_names = "DNS:localhost,IP:127.0.0.1,IP:::1";
    pki.server = files.issue("server", "ca", "tofu test server", server_names);
    pki.client = files.issue("client", "ca", "tofu test client", "DNS:client.test,email:client@test");
    pki.expired = files.issue("expired", "ca", "tofu expired server", server_names, -30, -1);
    pki.wrong_host = files.issue("wrong-host", "ca", "tofu elsewhere", "DNS:elsewhere.test");
    pki.untrusted = files.issue("untrusted", "other-ca", "tofu untrusted server", server_names);
    return pki;
}

pki::ThrowawayPki& files() {
    // Destroyed at exit, after the tests: that removes the directory.
    static pki::ThrowawayPki directory{"tofu-pki", "tofu tests"};
    return directory;
}

}  // namespace

const TlsPki& test_pki() {
    static const TlsPki pki = make_pki(files());
    return pki;
}

CertFiles issue_test_certificate(const std::string& name, const std::string& cn, const std::string& san,
                                 const std::vector<std::string>& dns_names) {
    (void)test_pki();  // the CA
    return files().issue_with_dns_names(name, "ca", cn, san, dns_names);
}

TlsOptions tls_server_options() {
    const TlsPki& pki = test_pki();
    return TlsOptions{.certificate_chain = pki.server.cert, .private_key = pki.server.key};
}

TlsOptions tls_client_options() {
    return TlsOptions{.ca = test_pki().ca};
}

}  // namespace tofu::test

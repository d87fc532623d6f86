//! A certificate authority made for one test run, and a server certificate it signed for
//! `localhost`, `127.0.0.1` and `::1`.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use rustls_pki_types::CertificateDer;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// PEM material for one run: the CA certificate clients should trust, and the server's
/// certificate and key.
pub(crate) struct RunCa {
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub server_cert_der: Vec<u8>,
    pub server_key_der: Vec<u8>,
}

impl RunCa {
    pub(crate) fn generate() -> RunCa {
        let ca_key = KeyPair::generate().expect("cannot generate CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.distinguished_name.push(DnType::CommonName, "Mailwatch test bed CA");
        ca_params.distinguished_name.push(DnType::OrganizationName, "Mailwatch tests");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_cert = ca_params.self_signed(&ca_key).expect("cannot self-sign CA");

        let key = KeyPair::generate().expect("cannot generate server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()])
                .expect("server params");
        params.distinguished_name.push(DnType::CommonName, "localhost");
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &ca_cert, &ca_key).expect("cannot sign server cert");

        RunCa {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().to_vec(),
            server_cert_pem: cert.pem(),
            server_key_pem: key.serialize_pem(),
            server_cert_der: cert.der().to_vec(),
            server_key_der: key.serialize_der(),
        }
    }
}

/// A rustls client configuration that trusts only `ca_der`, built with the ring provider
/// explicitly (so it cannot trip over two compiled-in providers).
pub(crate) fn client_config(ca_der: &[u8]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(ca_der.to_vec())).expect("run CA is not a valid trust anchor");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// A TLS acceptor serving the run's server certificate (for `localhost`, `127.0.0.1`, `::1`).
pub(crate) fn acceptor(ca: &RunCa) -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ca.server_key_der.clone()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(ca.server_cert_der.clone())], key)
        .expect("the run's server certificate and key match");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

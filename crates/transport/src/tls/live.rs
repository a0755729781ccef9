//! The certificate in use, replaceable while the server runs.
//!
//! One [`LiveCert`] is made at start and one rustls `ServerConfig` asks it
//! for the certificate at every handshake (it is the config's
//! `ResolvesServerCert`). [`LiveCert::replace`] swaps the `Arc`: handshakes
//! from then on present the new certificate, while sessions already
//! encrypted keep the keys they agreed on and are not disturbed.

use std::io;
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// The server certificate in use.
#[derive(Debug)]
pub struct LiveCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl LiveCert {
    /// Starts with `key`.
    pub fn new(key: CertifiedKey) -> Arc<Self> {
        Arc::new(Self { current: RwLock::new(Arc::new(key)) })
    }

    /// The certificate new handshakes get.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Uses `key` for every handshake from now on.
    pub fn replace(&self, key: CertifiedKey) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
    }

    /// The acceptor for every listener: TLS 1.2 and 1.3 only, ring as the
    /// crypto provider, the certificate taken from `self` at each handshake.
    pub fn acceptor(self: &Arc<Self>) -> io::Result<TlsAcceptor> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| io::Error::other(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

impl ResolvesServerCert for LiveCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn key(name: &str) -> CertifiedKey {
        let (cert, key) = crate::tls::generate_self_signed(&[name.to_string()]).expect("generate");
        crate::tls::certified_key(cert.as_bytes(), key.as_bytes()).expect("pair")
    }

    /// Trusts whatever the server presents and remembers it.
    #[derive(Debug)]
    struct Remember(std::sync::Mutex<Vec<Vec<u8>>>, Arc<rustls::crypto::CryptoProvider>);

    impl rustls::client::danger::ServerCertVerifier for Remember {
        fn verify_server_cert(
            &self,
            end_entity: &rustls_pki_types::CertificateDer<'_>,
            _: &[rustls_pki_types::CertificateDer<'_>],
            _: &rustls_pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls_pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push(end_entity.to_vec());
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &rustls_pki_types::CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(m, c, d, &self.1.signature_verification_algorithms)
        }
        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &rustls_pki_types::CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(m, c, d, &self.1.signature_verification_algorithms)
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.1.signature_verification_algorithms.supported_schemes()
        }
    }

    #[tokio::test]
    async fn new_handshakes_get_the_new_certificate_and_open_sessions_go_on() {
        let live = LiveCert::new(key("old.example.test"));
        let old_der = live.current().cert[0].to_vec();
        let acceptor = live.acceptor().expect("acceptor");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let mut buf = [0u8; 64];
                    while let Ok(n) = tls.read(&mut buf).await {
                        if n == 0 || tls.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let seen = Arc::new(Remember(Default::default(), provider.clone()));
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .dangerous()
            .with_custom_certificate_verifier(seen.clone())
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = rustls_pki_types::ServerName::try_from("old.example.test").expect("name");
        let connect = || async {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            connector.connect(name.clone(), tcp).await.expect("handshake")
        };
        let mut before = connect().await;
        live.replace(key("new.example.test"));
        let new_der = live.current().cert[0].to_vec();
        let _after = connect().await;
        assert_eq!(*seen.0.lock().expect("lock"), vec![old_der, new_der]);
        // The session opened before the swap still works.
        before.write_all(b"ping").await.expect("write");
        let mut buf = [0u8; 4];
        before.read_exact(&mut buf).await.expect("read");
        assert_eq!(&buf, b"ping");
    }
}

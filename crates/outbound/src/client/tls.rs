//! TLS settings for outbound SMTP.
//!
//! Most MX hosts present certificates nobody can check (self-signed, wrong
//! name), so `Opportunistic` and `Required` encrypt without judging the
//! certificate; the handshake signature is still verified, so the peer must
//! hold the key of the certificate it shows. `Verified` checks the chain
//! against the system's roots plus configured extra roots, and the name.

use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// A verifier that accepts any certificate but checks handshake signatures.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The operating system's trust anchors, loaded once per process.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for err in &found.errors {
            tracing::warn!(error = %err, "could not load some system TLS roots");
        }
        found.certs
    })
}

/// A client configuration that encrypts but does not judge certificates.
pub fn unverified_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    let provider = provider();
    let verifier = Arc::new(AnyCertificate { algorithms: provider.signature_verification_algorithms });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A client configuration that checks the chain (system roots plus
/// `extra_roots`) and the server name.
pub fn verified_config(extra_roots: &[CertificateDer<'static>]) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let (_added, _ignored) = roots.add_parsable_certificates(system_roots().iter().cloned());
    for cert in extra_roots {
        roots.add(cert.clone()).map_err(|e| format!("a configured extra TLS root is not usable: {e}"))?;
    }
    if roots.is_empty() {
        return Err("no trusted TLS roots are available to verify the certificate".into());
    }
    let provider = provider();
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("cannot set up certificate verification: {e}"))?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_webpki_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name to present (SNI) and, for verified TLS, to check the
/// certificate against: the host name, or its address if it has none.
pub fn server_name(host: &str, fallback: std::net::IpAddr) -> ServerName<'static> {
    let host = host.trim_end_matches('.').trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).unwrap_or_else(|_| ServerName::IpAddress(fallback.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_build() {
        assert!(unverified_config().is_ok());
        // May be empty in a bare container; the error then names the cause.
        match verified_config(&[]) {
            Ok(_) => {}
            Err(e) => assert!(e.contains("roots"), "{e}"),
        }
    }

    #[test]
    fn server_names() {
        let ip = std::net::IpAddr::from([192, 0, 2, 1]);
        assert!(matches!(server_name("mx.example.com.", ip), ServerName::DnsName(n) if n.as_ref() == "mx.example.com"));
        assert!(matches!(server_name("[192.0.2.7]", ip), ServerName::IpAddress(_)));
        assert!(matches!(server_name("bad name!", ip), ServerName::IpAddress(_)));
    }
}

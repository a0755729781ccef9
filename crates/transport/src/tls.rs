//! Server TLS configuration: the certificate in `DIR/tls/`, created on first start.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// File name of the certificate chain inside the TLS directory.
pub const CERT_FILE: &str = "cert.pem";
/// File name of the private key inside the TLS directory.
pub const KEY_FILE: &str = "key.pem";

/// Creates a self-signed certificate for `hostname` (and `localhost`) in
/// `dir` unless a certificate is already there. Returns whether one was made.
pub fn ensure_self_signed(dir: &Path, hostname: &str) -> io::Result<bool> {
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    if cert_path.exists() && key_path.exists() {
        return Ok(false);
    }
    std::fs::create_dir_all(dir)?;
    let mut names = vec![hostname.to_string()];
    if hostname != "localhost" {
        names.push("localhost".to_string());
    }
    let ck = rcgen::generate_simple_self_signed(names)
        .map_err(|e| io::Error::other(format!("could not create a certificate: {e}")))?;
    write_private(&key_path, ck.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(&cert_path, ck.cert.pem())?;
    tracing::info!(hostname, path = %cert_path.display(), "created a self-signed certificate");
    Ok(true)
}

fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Loads the certificate and key from `dir` into a TLS acceptor
/// (TLS 1.2 and 1.3 only, ring as the crypto provider).
pub fn load_acceptor(dir: &Path) -> io::Result<TlsAcceptor> {
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .map_err(|e| io::Error::other(format!("cannot read {}: {e}", cert_path.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| io::Error::other(format!("{} is not a PEM certificate: {e}", cert_path.display())))?;
    if certs.is_empty() {
        return Err(io::Error::other(format!("{} holds no certificate", cert_path.display())));
    }
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| io::Error::other(format!("cannot read the private key {}: {e}", key_path.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| io::Error::other(format!("certificate and key do not match: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

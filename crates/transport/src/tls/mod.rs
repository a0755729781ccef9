//! Server TLS: the certificate in `DIR/tls/` and the acceptor every listener
//! shares.
//!
//! * [`keys`]: PEM text into a certificate chain and a private key that
//!   belong together, with plain-language refusals;
//! * [`files`]: `cert.pem` and `key.pem` written as a pair (temporary files,
//!   then renames), and finishing a pair a crash interrupted;
//! * [`self_signed`]: a new self-signed certificate (825 days), also made on
//!   first start;
//! * [`live`]: the certificate in use, swappable while the server runs;
//!   [`LiveCert::acceptor`] builds the one acceptor (TLS 1.2 and 1.3 only,
//!   ring as the crypto provider) that asks it at every handshake.

pub mod files;
pub mod keys;
pub mod live;
pub mod self_signed;

use std::io;
use std::path::Path;

pub use files::{CERT_FILE, KEY_FILE};
pub use keys::{KeyProblem, certified_key};
pub use live::LiveCert;
pub use rustls::sign::CertifiedKey;
pub use self_signed::{SELF_SIGNED_DAYS, generate_self_signed};

/// Creates a self-signed certificate for `hostname` (and `localhost`) in
/// `dir` unless a certificate is already there. Returns whether one was made.
/// A pair whose writing a crash interrupted is finished or dropped first.
pub fn ensure_self_signed(dir: &Path, hostname: &str) -> io::Result<bool> {
    files::recover(dir)?;
    if dir.join(CERT_FILE).exists() && dir.join(KEY_FILE).exists() {
        return Ok(false);
    }
    let mut names = vec![hostname.to_string()];
    if hostname != "localhost" {
        names.push("localhost".to_string());
    }
    let (cert, key) = generate_self_signed(&names)?;
    files::write_pair(dir, cert.as_bytes(), key.as_bytes())?;
    tracing::info!(hostname, path = %dir.join(CERT_FILE).display(), "created a self-signed certificate");
    Ok(true)
}

/// Reads `cert.pem` and `key.pem` from `dir` and checks that they belong
/// together.
pub fn load(dir: &Path) -> io::Result<CertifiedKey> {
    let (cert, key) = files::read_pair(dir)?;
    certified_key(&cert, &key)
        .map_err(|problem| io::Error::other(format!("the certificate in {} cannot be used: {problem}", dir.display())))
}

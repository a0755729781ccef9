//! Writing certificates and keys back as clean PEM text, so that `cert.pem`
//! holds certificates only (never a key pasted along with them) and
//! `key.pem` the one key, whatever else the pasted text carried.

use base64::Engine as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// One PEM section: `-----BEGIN label-----`, base64 in lines of 64, `-----END label-----`.
pub fn section(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The chain as PEM text.
pub fn chain(chain: &[CertificateDer<'_>]) -> String {
    chain.iter().map(|c| section("CERTIFICATE", c)).collect()
}

/// The first private key in `key_pem`, alone, in the form it was given
/// (PKCS#8, PKCS#1 or SEC1). `None` if there is none (the caller has
/// already checked there is).
pub fn key(key_pem: &[u8]) -> Option<String> {
    let der = PrivateKeyDer::from_pem_slice(key_pem).ok()?;
    let label = match &der {
        PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
        PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
        PrivateKeyDer::Pkcs8(_) => "PRIVATE KEY",
        _ => return None,
    };
    Some(section(label, der.secret_der()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_drops_the_rest() {
        let (cert, key_pem) =
            mailroom_transport::tls::generate_self_signed(&["mail.example.test".into()]).expect("generate");
        let pasted = format!("Bag Attributes: something\n{key_pem}\n{cert}");
        let certs = mailroom_transport::tls::keys::parse_chain(pasted.as_bytes()).expect("chain");
        let clean = chain(&certs);
        assert!(!clean.contains("PRIVATE KEY") && !clean.contains("Bag"));
        assert_eq!(clean.replace('\n', ""), cert.replace(['\n', '\r'], ""));
        let k = key(pasted.as_bytes()).expect("key");
        assert!(k.starts_with("-----BEGIN PRIVATE KEY-----\n") && !k.contains("CERTIFICATE"));
        assert!(mailroom_transport::tls::certified_key(clean.as_bytes(), k.as_bytes()).is_ok());
        assert!(key(b"nothing").is_none());
    }
}

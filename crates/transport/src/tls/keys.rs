//! PEM text into a [`CertifiedKey`]: the certificate chain (server
//! certificate first) and the private key that belongs to it.
//!
//! Every way this can go wrong is a [`KeyProblem`] whose text says what to
//! do about it, because it is shown to the person who pasted the PEM text.

use std::fmt;
use std::sync::Arc;

use rustls::sign::{CertifiedKey, SigningKey};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why PEM text does not give a usable certificate and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyProblem {
    /// The certificate text is not well-formed PEM.
    CertificateText(&'static str),
    /// No `BEGIN CERTIFICATE` section.
    NoCertificate,
    /// The key text is not well-formed PEM.
    KeyText(&'static str),
    /// No private key section.
    NoKey,
    /// The key is protected by a password.
    EncryptedKey,
    /// The key is not one rustls with ring can sign with.
    UnsupportedKey,
    /// Certificate number `.0` (from 1) cannot be read.
    BadCertificate(usize),
    /// The key belongs to none of the certificates.
    KeyMismatch,
    /// The key belongs to certificate number `.0` (from 1), not the first.
    KeyBelongsTo(usize),
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CertificateText(why) => write!(
                f,
                "The certificate text is damaged: {why}. Paste the whole PEM text, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----."
            ),
            Self::NoCertificate => write!(
                f,
                "No certificate found in the text; paste the PEM text that starts with -----BEGIN CERTIFICATE-----."
            ),
            Self::KeyText(why) => write!(
                f,
                "The private key text is damaged: {why}. Paste the whole PEM text, from -----BEGIN PRIVATE KEY----- to -----END PRIVATE KEY-----."
            ),
            Self::NoKey => write!(
                f,
                "No private key found in the text; paste the PEM text that starts with -----BEGIN PRIVATE KEY----- (or BEGIN RSA PRIVATE KEY, BEGIN EC PRIVATE KEY)."
            ),
            Self::EncryptedKey => write!(
                f,
                "The private key is protected by a password; export it without one (for example: openssl pkey -in key.pem -out plain-key.pem)."
            ),
            Self::UnsupportedKey => write!(
                f,
                "The private key is of a kind Mailroom cannot use; RSA, ECDSA (P-256 or P-384) and Ed25519 keys work."
            ),
            Self::BadCertificate(1) => {
                write!(f, "The certificate cannot be read; it is not a valid X.509 certificate.")
            }
            Self::BadCertificate(n) => {
                write!(f, "Certificate {n} in the text cannot be read; it is not a valid X.509 certificate.")
            }
            Self::KeyMismatch => write!(f, "The private key does not belong to this certificate."),
            Self::KeyBelongsTo(n) => write!(
                f,
                "The private key belongs to certificate {n} in the text, not to the first one; put the server's own certificate first, then the certificates that issued it."
            ),
        }
    }
}

impl std::error::Error for KeyProblem {}

fn pem_problem(e: &pem::Error) -> &'static str {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a -----END ...----- line is missing",
        pem::Error::IllegalSectionStart { .. } => "a -----BEGIN ...----- line is malformed",
        pem::Error::Base64Decode(_) => "the text between the BEGIN and END lines is not valid base64",
        pem::Error::SectionTooLarge => "a section is far too large",
        _ => "it cannot be read as PEM",
    }
}

/// The certificates in `pem_text`, in the order given.
pub fn parse_chain(pem_text: &[u8]) -> Result<Vec<CertificateDer<'static>>, KeyProblem> {
    let mut certs = Vec::new();
    for item in CertificateDer::pem_slice_iter(pem_text) {
        certs.push(item.map_err(|e| KeyProblem::CertificateText(pem_problem(&e)))?);
    }
    if certs.is_empty() {
        return Err(KeyProblem::NoCertificate);
    }
    Ok(certs)
}

/// The private key in `pem_text` (PKCS#8, PKCS#1 or SEC1), ready to sign.
pub fn parse_key(pem_text: &[u8]) -> Result<Arc<dyn SigningKey>, KeyProblem> {
    if contains(pem_text, b"ENCRYPTED") {
        return Err(KeyProblem::EncryptedKey);
    }
    let der = match PrivateKeyDer::from_pem_slice(pem_text) {
        Ok(der) => der,
        Err(pem::Error::NoItemsFound) => return Err(KeyProblem::NoKey),
        Err(e) => return Err(KeyProblem::KeyText(pem_problem(&e))),
    };
    rustls::crypto::ring::sign::any_supported_type(&der).map_err(|_| KeyProblem::UnsupportedKey)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The chain and key from PEM text, checked to belong together: the key's
/// public half must be the one in the first certificate.
pub fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, KeyProblem> {
    let chain = parse_chain(cert_pem)?;
    let key = parse_key(key_pem)?;
    if key_matches(&chain[0], &key, 1)? {
        return Ok(CertifiedKey::new(chain, key));
    }
    // Say so if the key belongs to another certificate: the order is wrong.
    for (i, cert) in chain.iter().enumerate().skip(1) {
        if key_matches(cert, &key, i + 1).unwrap_or(false) {
            return Err(KeyProblem::KeyBelongsTo(i + 1));
        }
    }
    Err(KeyProblem::KeyMismatch)
}

/// Whether `key` is the private half of `cert`'s public key (`n`: the
/// certificate's place in the text, for the message).
fn key_matches(cert: &CertificateDer<'static>, key: &Arc<dyn SigningKey>, n: usize) -> Result<bool, KeyProblem> {
    use rustls::{Error, InconsistentKeys};
    match CertifiedKey::new(vec![cert.clone()], key.clone()).keys_match() {
        Ok(()) => Ok(true),
        Err(Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => Ok(false),
        // ring knows the public half of every key it loads, so this is not expected.
        Err(Error::InconsistentKeys(_)) => Err(KeyProblem::UnsupportedKey),
        Err(_) => Err(KeyProblem::BadCertificate(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(name: &str) -> (String, String) {
        crate::tls::generate_self_signed(&[name.to_string()]).expect("generate")
    }

    #[test]
    fn a_matching_pair_is_accepted() {
        let (cert, key) = pair("mail.example.test");
        let ck = certified_key(cert.as_bytes(), key.as_bytes()).expect("pair");
        assert_eq!(ck.cert.len(), 1);
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let (cert, _) = pair("a.example.test");
        let (_, other_key) = pair("b.example.test");
        let e = certified_key(cert.as_bytes(), other_key.as_bytes()).expect_err("mismatch");
        assert_eq!(e, KeyProblem::KeyMismatch);
        assert_eq!(e.to_string(), "The private key does not belong to this certificate.");
    }

    #[test]
    fn the_server_certificate_must_come_first() {
        let (leaf, key) = pair("mail.example.test");
        let (other, _) = pair("ca.example.test");
        let chain = format!("{other}{leaf}");
        assert_eq!(certified_key(chain.as_bytes(), key.as_bytes()).expect_err("order"), KeyProblem::KeyBelongsTo(2));
    }

    #[test]
    fn garbage_and_missing_sections_are_named() {
        let (cert, key) = pair("mail.example.test");
        let no_cert = certified_key(b"hello", key.as_bytes()).expect_err("garbage");
        assert_eq!(no_cert, KeyProblem::NoCertificate);
        assert!(no_cert.to_string().contains("-----BEGIN CERTIFICATE-----"));
        assert_eq!(certified_key(cert.as_bytes(), cert.as_bytes()).expect_err("no key"), KeyProblem::NoKey);
        let damaged = "-----BEGIN CERTIFICATE-----\n!!!notbase64!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(certified_key(damaged.as_bytes(), key.as_bytes()), Err(KeyProblem::CertificateText(_))));
        let unterminated = "-----BEGIN CERTIFICATE-----\nMIIB\n";
        assert!(matches!(certified_key(unterminated.as_bytes(), key.as_bytes()), Err(KeyProblem::CertificateText(_))));
        let not_x509 = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
        assert_eq!(
            certified_key(not_x509.as_bytes(), key.as_bytes()).expect_err("not x509"),
            KeyProblem::BadCertificate(1)
        );
        let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert_eq!(certified_key(cert.as_bytes(), encrypted.as_bytes()).expect_err("enc"), KeyProblem::EncryptedKey);
        let bogus_key = "-----BEGIN PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            certified_key(cert.as_bytes(), bogus_key.as_bytes()).expect_err("bogus"),
            KeyProblem::UnsupportedKey
        );
    }

    #[test]
    fn windows_line_endings_are_fine() {
        let (cert, key) = pair("mail.example.test");
        let (cert, key) = (cert.replace('\n', "\r\n"), key.replace('\n', "\r\n"));
        assert!(certified_key(cert.as_bytes(), key.as_bytes()).is_ok());
    }

    #[test]
    fn cert_and_key_may_share_one_text() {
        let (cert, key) = pair("mail.example.test");
        let both = format!("{key}{cert}");
        assert!(certified_key(both.as_bytes(), both.as_bytes()).is_ok());
    }
}

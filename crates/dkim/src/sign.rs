//! Signing outgoing messages: which headers we sign, and producing the `DKIM-Signature` fields.
//!
//! The cryptography and canonicalization are `mail-auth`'s `DkimSigner`; this file decides the policy
//! (relaxed/relaxed, a timestamp but no expiry, which headers, From oversigned) and parses keys once.

use mail_auth::common::crypto::{Algorithm as SigAlgorithm, DkimKey as SigKey, Sha256, SigningKey};
use mail_auth::common::headers::{HeaderWriter as _, Writable};
use mail_auth::dkim::{Canonicalization, DkimSigner};

use crate::key::{ed25519_signing_key, rsa_signing_key};
use crate::{Algorithm, DkimError, DkimKey};

/// Headers we sign when the message has them, in this order. These are the ones whose change would
/// alter what the reader sees or how the message threads and decodes.
pub const SIGNED_HEADERS: &[&str] = &[
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

/// Keys parsed once for a signing domain. Build it when configuration loads and share it between
/// deliveries; parsing an RSA key costs more than signing with it.
pub struct Signer {
    domain: String,
    keys: Vec<(String, SigKey)>,
}

impl Signer {
    /// Parses `keys` for signing as `domain` (the `d=` tag, normally the From domain).
    pub fn new(domain: &str, keys: &[DkimKey]) -> Result<Self, DkimError> {
        let domain = validate_domain(domain)?;
        let keys = keys
            .iter()
            .map(|k| {
                let key = match k.algorithm {
                    Algorithm::Rsa2048 => SigKey::Rsa(rsa_signing_key(&k.selector, &k.private_pkcs8_pem)?),
                    Algorithm::Ed25519 => SigKey::Ed25519(ed25519_signing_key(&k.selector, &k.private_pkcs8_pem)?),
                };
                Ok((k.selector.clone(), key))
            })
            .collect::<Result<_, DkimError>>()?;
        Ok(Signer { domain, keys })
    }

    /// The signing domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Signs `message` (a complete RFC 5322 message, CRLF line endings) with every key and returns the
    /// `DKIM-Signature` header fields, each ending in CRLF, to be written in front of the message.
    /// With no keys the result is empty.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, DkimError> {
        let headers = headers_to_sign(message)?;
        let mut out = Vec::with_capacity(self.keys.len() * 512);
        for (selector, key) in &self.keys {
            let signature = DkimSigner::from_key(Borrowed(key))
                .domain(self.domain.as_str())
                .selector(selector.as_str())
                .headers(headers.iter().copied())
                .header_canonicalization(Canonicalization::Relaxed)
                .body_canonicalization(Canonicalization::Relaxed)
                .sign(message)
                .map_err(|source| DkimError::Sign { selector: selector.clone(), source })?;
            out.extend_from_slice(signature.to_header().as_bytes());
            tracing::debug!(domain = %self.domain, selector = %selector, algorithm = ?key.algorithm(), "DKIM-signed message");
        }
        Ok(out)
    }
}

/// Signs `message` for `domain` with each of `keys`; see [`Signer::sign`]. Parses the keys on every
/// call: for repeated use build a [`Signer`] once.
pub fn sign(message: &[u8], domain: &str, keys: &[DkimKey]) -> Result<Vec<u8>, DkimError> {
    Signer::new(domain, keys)?.sign(message)
}

/// Lets `DkimSigner`, which owns its key, sign with a key the [`Signer`] keeps.
struct Borrowed<'a>(&'a SigKey);

impl SigningKey for Borrowed<'_> {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        self.0.sign(input)
    }

    fn algorithm(&self) -> SigAlgorithm {
        self.0.algorithm()
    }
}

/// The `h=` list for this message: each of [`SIGNED_HEADERS`] the message has, then `From` once more.
///
/// The extra `From` "oversigns" it: a verifier hashes one From more than the message carries, as an
/// empty field, so a second From added in transit (a classic phishing trick) breaks the signature.
fn headers_to_sign(message: &[u8]) -> Result<Vec<&'static str>, DkimError> {
    let present = header_names(message);
    let mut list: Vec<&'static str> = SIGNED_HEADERS
        .iter()
        .copied()
        .filter(|h| present.iter().any(|p| p.eq_ignore_ascii_case(h.as_bytes())))
        .collect();
    if list.first() != Some(&"From") {
        return Err(DkimError::MissingFrom);
    }
    list.push("From");
    Ok(list)
}

/// Names of the header fields in the message's header section (up to the first empty line).
fn header_names(message: &[u8]) -> Vec<&[u8]> {
    let mut names = Vec::new();
    for line in message.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            continue; // folded continuation of the previous field
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            names.push(line[..colon].trim_ascii_end());
        }
    }
    names
}

/// A `d=` value: a DNS name, without a trailing dot.
fn validate_domain(domain: &str) -> Result<String, DkimError> {
    let d = domain.trim().trim_end_matches('.');
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    if ok { Ok(d.to_owned()) } else { Err(DkimError::InvalidDomain(domain.to_owned())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_present_headers_and_oversigns_from() {
        let msg = b"from: a@example.test\r\nSubject: hi\r\n\tthere\r\nX-Other: 1\r\nDate : now\r\n\r\nTo: body\r\n";
        assert_eq!(headers_to_sign(msg).ok(), Some(vec!["From", "Subject", "Date", "From"]));
    }

    #[test]
    fn refuses_a_message_without_from() {
        assert!(matches!(headers_to_sign(b"To: b@example.test\r\n\r\nFrom: x\r\n"), Err(DkimError::MissingFrom)));
    }

    #[test]
    fn domains_are_dns_names() {
        assert_eq!(validate_domain("Example.test.").ok().as_deref(), Some("Example.test"));
        for bad in ["", ".", "a b.test", "a;b.test", "a..test", "é.test"] {
            assert!(validate_domain(bad).is_err(), "{bad}");
        }
    }
}

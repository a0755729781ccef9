//! DKIM key pairs: generating them, loading them back from PEM, and naming them (selectors).
//!
//! Private keys are kept as PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), the format OpenSSL and most
//! tools exchange, so an admin can import a key made elsewhere or export ours. Public keys are kept
//! already in the form DNS wants (RFC 6376 `p=`): base64 of the SubjectPublicKeyInfo DER for RSA,
//! base64 of the raw 32-byte key for Ed25519 (RFC 8463).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use rsa::RsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding, PrivateKeyInfo, SecretDocument};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::DkimError;

/// RSA modulus size we generate. 2048 bits is what every receiver accepts and still fits DNS easily;
/// 1024 is considered weak and 4096 needs TXT records some DNS panels cannot hold.
const RSA_BITS: usize = 2048;

/// PEM label of a PKCS#8 private key.
const PKCS8_LABEL: &str = "PRIVATE KEY";

/// The signing algorithm of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSA with a 2048-bit modulus, signing `rsa-sha256`. Understood by every receiver.
    Rsa2048,
    /// Ed25519, signing `ed25519-sha256` (RFC 8463). Short keys; not yet checked by all receivers, so
    /// publish it next to an RSA key rather than instead of one.
    Ed25519,
}

impl Algorithm {
    /// The `k=` tag value in DNS and the name used in configuration: `rsa` or `ed25519`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rsa2048 => "rsa",
            Algorithm::Ed25519 => "ed25519",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = DkimError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rsa" | "rsa2048" | "rsa-sha256" => Ok(Algorithm::Rsa2048),
            "ed25519" | "ed25519-sha256" => Ok(Algorithm::Ed25519),
            _ => Err(DkimError::UnknownAlgorithm(s.to_owned())),
        }
    }
}

/// One DKIM key: the selector it is published under, its private half (PKCS#8 PEM) and its public
/// half ready for DNS.
#[derive(Clone, PartialEq, Eq)]
pub struct DkimKey {
    /// The DNS label(s) under `_domainkey` where the public key is published, e.g. `mr202406r`.
    pub selector: String,
    /// The key's algorithm.
    pub algorithm: Algorithm,
    /// The private key, PKCS#8 PEM. Secret: never log it.
    pub private_pkcs8_pem: String,
    /// The public key as it goes into the DNS `p=` tag (base64, no line breaks).
    pub public_key_b64: String,
}

impl fmt::Debug for DkimKey {
    // Hand-written so that a `{:?}` in a log line can never leak the private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DkimKey")
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .field("private_pkcs8_pem", &"<redacted>")
            .field("public_key_b64", &self.public_key_b64)
            .finish()
    }
}

/// The selector Mailroom proposes for a key made in month `yyyymm` (e.g. `"202406"`): `mr202406r` for
/// RSA, `mr202406e` for Ed25519. Dated selectors make rotation obvious in DNS.
pub fn default_selector(algorithm: Algorithm, yyyymm: &str) -> String {
    let suffix = match algorithm {
        Algorithm::Rsa2048 => 'r',
        Algorithm::Ed25519 => 'e',
    };
    format!("mr{yyyymm}{suffix}")
}

/// Generates a new key pair for `selector`.
///
/// RSA keys are made with the `rsa` crate (ring cannot generate RSA keys); Ed25519 keys with ring
/// through `mail-auth`. Generating RSA-2048 takes from a fraction of a second to a few seconds: call it
/// from a blocking task, not from an async worker.
pub fn generate(algorithm: Algorithm, selector: &str) -> Result<DkimKey, DkimError> {
    validate_selector(selector)?;
    let gen_err = |reason: String| DkimError::Generate { algorithm, reason };
    let key = match algorithm {
        Algorithm::Rsa2048 => {
            let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS).map_err(|e| gen_err(e.to_string()))?;
            let pem = private.to_pkcs8_pem(LineEnding::LF).map_err(|e| gen_err(e.to_string()))?;
            let public = rsa_public_b64(&private).map_err(gen_err)?;
            DkimKey {
                selector: selector.to_owned(),
                algorithm,
                private_pkcs8_pem: pem.to_string(),
                public_key_b64: public,
            }
        }
        Algorithm::Ed25519 => {
            let v2 = Ed25519Key::generate_pkcs8().map_err(|e| gen_err(e.to_string()))?;
            let key = Ed25519Key::from_pkcs8_der(&v2).map_err(|e| gen_err(e.to_string()))?;
            // ring writes PKCS#8 v2 (private and public key together), which OpenSSL 3.0 refuses to read.
            // Store the v1 form (private key only) that every tool reads; ring derives the public half.
            let info = PrivateKeyInfo::try_from(v2.as_slice()).map_err(|e| gen_err(e.to_string()))?;
            let v1 = PrivateKeyInfo::new(info.algorithm, info.private_key);
            let doc = SecretDocument::try_from(&v1).map_err(|e| gen_err(e.to_string()))?;
            let pem = doc.to_pem(PKCS8_LABEL, LineEnding::LF).map_err(|e| gen_err(e.to_string()))?;
            DkimKey {
                selector: selector.to_owned(),
                algorithm,
                private_pkcs8_pem: pem.to_string(),
                public_key_b64: BASE64.encode(key.public_key()),
            }
        }
    };
    tracing::info!(selector, algorithm = %algorithm, "generated DKIM key");
    Ok(key)
}

/// Loads a key from its PKCS#8 PEM (as stored, or as exported by `openssl genpkey`), checks that it is
/// a usable key of `algorithm`, and derives the public half.
pub fn load(selector: &str, algorithm: Algorithm, private_pkcs8_pem: &str) -> Result<DkimKey, DkimError> {
    validate_selector(selector)?;
    let public_key_b64 = match algorithm {
        Algorithm::Rsa2048 => {
            let der = pkcs8_der(selector, algorithm, private_pkcs8_pem)?;
            let private = RsaPrivateKey::from_pkcs8_der(der.as_bytes())
                .map_err(|e| invalid_key(selector, algorithm, e.to_string()))?;
            // Let the signing backend refuse what it cannot use (e.g. a modulus under 2048 bits),
            // now rather than at the first delivery.
            rsa_signing_key(selector, private_pkcs8_pem)?;
            rsa_public_b64(&private).map_err(|reason| invalid_key(selector, algorithm, reason))?
        }
        Algorithm::Ed25519 => BASE64.encode(ed25519_signing_key(selector, private_pkcs8_pem)?.public_key()),
    };
    Ok(DkimKey {
        selector: selector.to_owned(),
        algorithm,
        private_pkcs8_pem: private_pkcs8_pem.to_owned(),
        public_key_b64,
    })
}

/// Parses an RSA PKCS#8 PEM into the key type `mail-auth` signs with.
pub(crate) fn rsa_signing_key(selector: &str, pem: &str) -> Result<RsaKey<Sha256>, DkimError> {
    let der = pkcs8_der(selector, Algorithm::Rsa2048, pem)?;
    RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.as_bytes())))
        .map_err(|e| invalid_key(selector, Algorithm::Rsa2048, e.to_string()))
}

/// Parses an Ed25519 PKCS#8 PEM (v1 as written by OpenSSL, or v2 as written by ring) into the key type
/// `mail-auth` signs with.
pub(crate) fn ed25519_signing_key(selector: &str, pem: &str) -> Result<Ed25519Key, DkimError> {
    let der = pkcs8_der(selector, Algorithm::Ed25519, pem)?;
    Ed25519Key::from_pkcs8_maybe_unchecked_der(der.as_bytes())
        .map_err(|e| invalid_key(selector, Algorithm::Ed25519, e.to_string()))
}

/// Decodes a PEM block and insists it is labelled as a PKCS#8 private key.
fn pkcs8_der(selector: &str, algorithm: Algorithm, pem: &str) -> Result<SecretDocument, DkimError> {
    let (label, doc) =
        SecretDocument::from_pem(pem.trim()).map_err(|e| invalid_key(selector, algorithm, e.to_string()))?;
    if label != PKCS8_LABEL {
        return Err(invalid_key(
            selector,
            algorithm,
            format!(
                "PEM block is \"{label}\", expected \"{PKCS8_LABEL}\" (convert with `openssl pkcs8 -topk8 -nocrypt`)"
            ),
        ));
    }
    Ok(doc)
}

/// Base64 of the SubjectPublicKeyInfo DER of an RSA key, the form receivers expect in `p=`.
fn rsa_public_b64(private: &RsaPrivateKey) -> Result<String, String> {
    let der = private.to_public_key().to_public_key_der().map_err(|e| e.to_string())?;
    Ok(BASE64.encode(der.as_bytes()))
}

fn invalid_key(selector: &str, algorithm: Algorithm, reason: String) -> DkimError {
    DkimError::InvalidKey { selector: selector.to_owned(), algorithm, reason }
}

/// A selector is one or more DNS labels (RFC 6376 section 3.1): letters, digits and inner hyphens,
/// 1 to 63 octets each.
fn validate_selector(selector: &str) -> Result<(), DkimError> {
    let refuse = |reason| Err(DkimError::InvalidSelector { selector: selector.to_owned(), reason });
    if selector.is_empty() {
        return refuse("it is empty");
    }
    if selector.len() > 200 {
        return refuse("it is longer than 200 characters");
    }
    for label in selector.split('.') {
        if label.is_empty() || label.len() > 63 {
            return refuse("each dot-separated part must be 1 to 63 characters");
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return refuse("only letters, digits, hyphens and dots are allowed");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return refuse("a part may not start or end with a hyphen");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_round_trips_through_its_name() {
        for alg in [Algorithm::Rsa2048, Algorithm::Ed25519] {
            assert_eq!(alg.to_string().parse::<Algorithm>().ok(), Some(alg));
        }
        assert_eq!("RSA".parse::<Algorithm>().ok(), Some(Algorithm::Rsa2048));
        assert!("dsa".parse::<Algorithm>().is_err());
    }

    #[test]
    fn default_selectors_are_dated_and_typed() {
        assert_eq!(default_selector(Algorithm::Rsa2048, "202406"), "mr202406r");
        assert_eq!(default_selector(Algorithm::Ed25519, "202406"), "mr202406e");
    }

    #[test]
    fn selectors_must_be_dns_labels() {
        for good in ["mr202406r", "a", "sel-1.sub", "S1"] {
            assert!(validate_selector(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a..b", "-a", "a-", "sel;x", "sél", &"x".repeat(64)] {
            assert!(validate_selector(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_output_hides_the_private_key() {
        let key = DkimKey {
            selector: "s".into(),
            algorithm: Algorithm::Ed25519,
            private_pkcs8_pem: "-----BEGIN PRIVATE KEY-----SECRET".into(),
            public_key_b64: "AAAA".into(),
        };
        let shown = format!("{key:?}");
        assert!(!shown.contains("SECRET"));
        assert!(shown.contains("redacted"));
    }
}

//! A new self-signed certificate with an ECDSA P-256 key (rcgen).
//!
//! It is valid for [`SELF_SIGNED_DAYS`] from an hour ago (for clocks a little
//! behind): 825 days is the longest Apple's systems accept for a server
//! certificate, and long enough that renewing it is rare.

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a self-signed certificate is valid.
pub const SELF_SIGNED_DAYS: u64 = 825;

/// Generates a certificate for `names` (DNS names; the first is also the
/// subject's common name) and its key; returns `(cert_pem, key_pem)`.
pub fn generate_self_signed(names: &[String]) -> io::Result<(String, String)> {
    let failed = |e: rcgen::Error| io::Error::other(format!("could not create a certificate: {e}"));
    let first = names.first().ok_or_else(|| io::Error::other("a certificate needs at least one name"))?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(failed)?;
    let mut subject = rcgen::DistinguishedName::new();
    subject.push(rcgen::DnType::CommonName, first.as_str());
    params.distinguished_name = subject;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let start = now.saturating_sub(Duration::from_secs(3600));
    params.not_before = rcgen::date_time_ymd(1970, 1, 1) + start;
    params.not_after = params.not_before + Duration::from_secs(SELF_SIGNED_DAYS * 86_400);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().map_err(failed)?;
    let cert = params.self_signed(&key).map_err(failed)?;
    Ok((cert.pem(), key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_a_matching_pair_for_the_names() {
        let names = vec!["mail.example.test".to_string(), "localhost".to_string()];
        let (cert, key) = generate_self_signed(&names).expect("generate");
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(crate::tls::certified_key(cert.as_bytes(), key.as_bytes()).is_ok());
        assert!(generate_self_signed(&[]).is_err());
    }
}

//! What a certificate says about itself, for `GET /api/v1/certificate`,
//! `mailroomd cert show` and the answers to a change.

use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::x509::X509Name;

/// The server certificate (the first of the chain) and the chain's length.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CertificateInfo {
    /// The subject's common name (CN), or the whole subject name if it has none.
    #[schema(example = "mail.example.com")]
    pub subject: String,
    /// DNS names the certificate is valid for (its subject alternative names).
    #[schema(example = json!(["mail.example.com", "localhost"]))]
    pub names: Vec<String>,
    /// The issuer's common name, or its whole name if it has none.
    #[schema(example = "R11")]
    pub issuer: String,
    /// Issuer and subject are the same: no authority vouches for it, so mail
    /// clients ask their users to accept it.
    pub self_signed: bool,
    /// Valid from, RFC 3339.
    #[schema(example = "2026-01-01T00:00:00+00:00")]
    pub not_before: String,
    /// Valid until, RFC 3339.
    #[schema(example = "2026-04-01T00:00:00+00:00")]
    pub not_after: String,
    /// Whole days until it expires (negative once it has).
    pub days_left: i64,
    /// SHA-256 of the certificate (DER), as hex pairs separated by colons.
    #[schema(example = "3A:1F:…")]
    pub fingerprint_sha256: String,
    /// Certificates in the chain, the server's own included.
    pub chain_length: usize,
}

/// Reads the first certificate of `chain`; `Err` says why it cannot be read.
pub fn describe(chain: &[CertificateDer<'_>], now: i64) -> Result<CertificateInfo, String> {
    let leaf = chain.first().ok_or("there is no certificate")?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|_| "the certificate is not a valid X.509 certificate".to_string())?;
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    Ok(CertificateInfo {
        subject: common_name(cert.subject()),
        names: dns_names(&cert),
        issuer: common_name(cert.issuer()),
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        not_before: rfc3339(not_before),
        not_after: rfc3339(not_after),
        days_left: (not_after - now).div_euclid(86_400),
        fingerprint_sha256: fingerprint(leaf),
        chain_length: chain.len(),
    })
}

fn common_name(name: &X509Name<'_>) -> String {
    name.iter_common_name().find_map(|cn| cn.as_str().ok()).map(str::to_string).unwrap_or_else(|| name.to_string())
}

fn dns_names(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = cert.subject_alternative_name() else { return Vec::new() };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(d.to_string()),
            _ => None,
        })
        .collect()
}

/// SHA-256 of `der`, as upper-case hex pairs joined by colons.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest.as_ref().iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// Unix time as RFC 3339 text.
pub fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map(|d| d.to_rfc3339()).unwrap_or_default()
}

/// Unix time as a date (`2026-01-01`), for sentences.
pub fn date(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_a_self_signed_certificate() {
        let names = vec!["mail.example.test".to_string(), "localhost".to_string()];
        let (cert, _) = mailroom_transport::tls::generate_self_signed(&names).expect("generate");
        let chain = mailroom_transport::tls::keys::parse_chain(cert.as_bytes()).expect("chain");
        let now = chrono::Utc::now().timestamp();
        let info = describe(&chain, now).expect("info");
        assert_eq!(info.subject, "mail.example.test");
        assert_eq!(info.names, names);
        assert_eq!(info.issuer, "mail.example.test");
        assert!(info.self_signed);
        assert_eq!(info.chain_length, 1);
        assert!((823..=825).contains(&info.days_left), "{}", info.days_left);
        assert_eq!(info.fingerprint_sha256.len(), 32 * 3 - 1);
        assert_eq!(info.fingerprint_sha256, fingerprint(&chain[0]));
        let from = chrono::DateTime::parse_from_rfc3339(&info.not_before).expect("rfc3339");
        let until = chrono::DateTime::parse_from_rfc3339(&info.not_after).expect("rfc3339");
        assert_eq!((until - from).num_days(), 825);
    }

    #[test]
    fn fingerprints_are_colon_separated_hex() {
        // SHA-256 of the empty input.
        assert!(fingerprint(b"").starts_with("E3:B0:C4:42:98:FC:1C:14"));
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00+00:00");
    }

    #[test]
    fn garbage_is_not_described() {
        let der = CertificateDer::from(b"not a certificate".to_vec());
        assert!(describe(&[der], 0).is_err());
        assert!(describe(&[], 0).is_err());
    }
}

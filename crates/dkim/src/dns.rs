//! The DNS TXT record that publishes a DKIM public key, in the form an admin pastes into a DNS panel.

use crate::DkimKey;

/// Longest character-string a TXT record can carry in one piece (RFC 1035 section 3.3).
const TXT_STRING_MAX: usize = 255;

/// One TXT record to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    /// Owner name, without a trailing dot: `{selector}._domainkey.{domain}`.
    pub name: String,
    /// The record text as one logical string: `v=DKIM1; k=rsa; p=...`.
    pub value: String,
}

impl DnsRecord {
    /// The value cut into pieces of at most 255 characters. An RSA-2048 record is about 410
    /// characters, more than one TXT string holds; zone files and most DNS panels want it as several
    /// quoted strings, which receivers join back without separators.
    pub fn txt_strings(&self) -> Vec<&str> {
        // The value is ASCII (tags and base64), so byte chunks are character chunks.
        self.value.as_bytes().chunks(TXT_STRING_MAX).filter_map(|c| std::str::from_utf8(c).ok()).collect()
    }

    /// The record as a zone-file line: `name. IN TXT ( "..." "..." )`.
    pub fn zone_file_line(&self) -> String {
        let quoted: Vec<String> = self.txt_strings().iter().map(|s| format!("\"{s}\"")).collect();
        format!("{}. IN TXT ( {} )", self.name, quoted.join(" "))
    }
}

/// The TXT record that publishes `key` for `domain`.
pub fn dns_record(domain: &str, key: &DkimKey) -> DnsRecord {
    let domain = domain.trim().trim_end_matches('.');
    DnsRecord {
        name: format!("{}._domainkey.{domain}", key.selector),
        value: format!("v=DKIM1; k={}; p={}", key.algorithm, key.public_key_b64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;

    fn key(algorithm: Algorithm, public: &str) -> DkimKey {
        DkimKey {
            selector: "mr202406r".into(),
            algorithm,
            private_pkcs8_pem: String::new(),
            public_key_b64: public.into(),
        }
    }

    #[test]
    fn record_name_and_value() {
        let rec = dns_record("example.test.", &key(Algorithm::Rsa2048, "MIIB"));
        assert_eq!(rec.name, "mr202406r._domainkey.example.test");
        assert_eq!(rec.value, "v=DKIM1; k=rsa; p=MIIB");
        assert_eq!(dns_record("example.test", &key(Algorithm::Ed25519, "AA")).value, "v=DKIM1; k=ed25519; p=AA");
    }

    #[test]
    fn long_values_split_into_txt_strings() {
        let rec = dns_record("example.test", &key(Algorithm::Rsa2048, &"A".repeat(600)));
        let parts = rec.txt_strings();
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.len() <= 255));
        assert_eq!(parts.concat(), rec.value);
        assert!(rec.zone_file_line().starts_with("mr202406r._domainkey.example.test. IN TXT ( \"v=DKIM1; k=rsa; p=A"));
    }
}

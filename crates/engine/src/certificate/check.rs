//! Checks a certificate must pass before it is written, beyond the key
//! belonging to it (which `mailroom_transport::tls::keys` checks): dates,
//! the order of the chain, and the names of a self-signed one. Each refusal
//! is a sentence for the person who asked.

use rustls_pki_types::CertificateDer;

use super::info::date;

/// Most names a self-signed certificate may be made for.
pub const MAX_NAMES: usize = 20;

/// The server certificate is valid now, and each certificate of the chain
/// is followed by the one that issued it.
pub fn chain(chain: &[CertificateDer<'_>], now: i64) -> Result<(), String> {
    let mut parsed = Vec::with_capacity(chain.len());
    for (i, der) in chain.iter().enumerate() {
        match x509_parser::parse_x509_certificate(der) {
            Ok((_, cert)) => parsed.push(cert),
            Err(_) if i == 0 => {
                return Err("The certificate cannot be read; it is not a valid X.509 certificate.".into());
            }
            Err(_) => {
                return Err(format!(
                    "Certificate {} in the text cannot be read; it is not a valid X.509 certificate.",
                    i + 1
                ));
            }
        }
    }
    let Some(leaf) = parsed.first() else {
        return Err(
            "No certificate found in the text; paste the PEM text that starts with -----BEGIN CERTIFICATE-----.".into(),
        );
    };
    let validity = leaf.validity();
    if validity.not_after.timestamp() < now {
        return Err(format!("This certificate expired on {}.", date(validity.not_after.timestamp())));
    }
    if validity.not_before.timestamp() > now {
        return Err(format!(
            "This certificate is valid only from {}; if that date has come, check this computer's clock.",
            date(validity.not_before.timestamp())
        ));
    }
    for (i, pair) in parsed.windows(2).enumerate() {
        if pair[0].issuer().as_raw() != pair[1].subject().as_raw() {
            return Err(format!(
                "The certificates are not in order: certificate {} did not issue certificate {}. Put the server's own certificate first, then the one that issued it, and so on (as in Let's Encrypt's fullchain.pem).",
                i + 2,
                i + 1
            ));
        }
    }
    Ok(())
}

/// Checks and tidies the names for a self-signed certificate: DNS names
/// (a leading `*.` allowed), lower-case, without duplicates.
pub fn names(names: &[String]) -> Result<Vec<String>, String> {
    if names.is_empty() {
        return Err("Give at least one name for the certificate, or leave out \"names\" to use the server's host name and localhost.".into());
    }
    if names.len() > MAX_NAMES {
        return Err(format!("A certificate can have at most {MAX_NAMES} names; {} were given.", names.len()));
    }
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for raw in names {
        let name = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        if name.parse::<std::net::IpAddr>().is_ok() {
            return Err(format!("\"{raw}\" is an IP address; give DNS names such as mail.example.com."));
        }
        if !is_dns_name(&name) {
            return Err(format!(
                "\"{}\" is not a DNS name; use names such as mail.example.com (letters, digits and hyphens, separated by dots).",
                raw.chars().take(80).collect::<String>()
            ));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// A host name of ASCII letters, digits and hyphens; `*.` may stand for the
/// first label when at least two follow.
pub fn is_dns_name(name: &str) -> bool {
    let (rest, wildcard) = match name.strip_prefix("*.") {
        Some(rest) => (rest, true),
        None => (name, false),
    };
    let labels: Vec<&str> = rest.split('.').collect();
    !rest.is_empty()
        && name.len() <= 253
        && (!wildcard || labels.len() >= 2)
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The names used when none are given: the host name (if it is a DNS name)
/// and `localhost`.
pub fn default_names(hostname: &str) -> Vec<String> {
    let host = hostname.trim().trim_end_matches('.').to_ascii_lowercase();
    let mut out = Vec::new();
    if is_dns_name(&host) && host != "localhost" {
        out.push(host);
    }
    out.push("localhost".to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailroom_transport::tls::keys::parse_chain;

    fn der_of(pem: &str) -> Vec<CertificateDer<'static>> {
        parse_chain(pem.as_bytes()).expect("chain")
    }

    #[test]
    fn dates_are_checked() {
        let (cert, _) = mailroom_transport::tls::generate_self_signed(&["a.example.test".into()]).expect("gen");
        let chain = der_of(&cert);
        let now = chrono::Utc::now().timestamp();
        assert!(super::chain(&chain, now).is_ok());
        let later = now + 900 * 86_400;
        let e = super::chain(&chain, later).expect_err("expired");
        assert!(e.starts_with("This certificate expired on 20"), "{e}");
        let e = super::chain(&chain, now - 2 * 86_400).expect_err("not yet");
        assert!(e.starts_with("This certificate is valid only from"), "{e}");
    }

    #[test]
    fn chain_order_is_checked() {
        let (a, _) = mailroom_transport::tls::generate_self_signed(&["a.example.test".into()]).expect("gen");
        let (b, _) = mailroom_transport::tls::generate_self_signed(&["b.example.test".into()]).expect("gen");
        let now = chrono::Utc::now().timestamp();
        let e = super::chain(&der_of(&format!("{a}{b}")), now).expect_err("order");
        assert!(e.starts_with("The certificates are not in order: certificate 2 did not issue certificate 1."), "{e}");
        // A self-signed certificate followed by itself is in order (it issued itself).
        assert!(super::chain(&der_of(&format!("{a}{a}")), now).is_ok());
    }

    #[test]
    fn garbage_in_the_chain_is_named() {
        let (a, _) = mailroom_transport::tls::generate_self_signed(&["a.example.test".into()]).expect("gen");
        let mut chain = der_of(&a);
        chain.push(CertificateDer::from(b"junk".to_vec()));
        let e = super::chain(&chain, chrono::Utc::now().timestamp()).expect_err("junk");
        assert!(e.starts_with("Certificate 2 in the text cannot be read"), "{e}");
    }

    #[test]
    fn names_are_checked_and_tidied() {
        let given = vec!["Mail.Example.COM.".to_string(), "mail.example.com".into(), "*.example.com".into()];
        assert_eq!(names(&given).expect("ok"), vec!["mail.example.com", "*.example.com"]);
        assert!(names(&[]).is_err());
        assert!(names(&vec!["a.test".to_string(); 21]).expect_err("too many").contains("at most 20"));
        for bad in ["", "-a.test", "a..test", "a_b.test", "*.com", "*", "a.test/x", "mail.пример.рф", "a b"] {
            assert!(names(&[bad.to_string()]).is_err(), "{bad} accepted");
        }
        assert!(names(&["192.0.2.1".to_string()]).expect_err("ip").contains("IP address"));
        assert!(names(&[format!("{}.test", "a".repeat(64))]).is_err());
        assert_eq!(default_names("Mail.Example.COM"), vec!["mail.example.com", "localhost"]);
        assert_eq!(default_names("localhost"), vec!["localhost"]);
        assert_eq!(default_names("bad_name"), vec!["localhost"]);
    }
}

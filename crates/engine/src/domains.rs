//! Domain operations that span several stores of state: adding a domain
//! also creates its DKIM keys (RSA-2048 and Ed25519), so mail from it can be
//! signed from the first message on.

use mailroom_dkim::{Algorithm, DkimKey, DnsRecord};
use mailroom_store::{DkimKeyRow, Domain, Store};

/// Adds a domain, its postmaster account and its DKIM keys.
pub fn add_domain(store: &Store, name: &str) -> anyhow::Result<Domain> {
    let domain = store.add_domain(name)?;
    let yyyymm = chrono::Utc::now().format("%Y%m").to_string();
    for algorithm in [Algorithm::Rsa2048, Algorithm::Ed25519] {
        let selector = mailroom_dkim::default_selector(algorithm, &yyyymm);
        match mailroom_dkim::generate(algorithm, &selector) {
            Ok(key) => store.add_dkim_key(&DkimKeyRow {
                domain: domain.name.clone(),
                selector: key.selector.clone(),
                algorithm: algorithm.to_string(),
                private_key: key.private_pkcs8_pem.clone(),
                public_key: key.public_key_b64.clone(),
            })?,
            Err(e) => tracing::warn!(domain = %domain.name, %algorithm, error = %e, "could not create a DKIM key"),
        }
    }
    Ok(domain)
}

/// The usable DKIM keys of a domain.
pub fn dkim_keys(store: &Store, domain: &str) -> anyhow::Result<Vec<DkimKey>> {
    let mut keys = Vec::new();
    for row in store.dkim_keys(domain)? {
        let Ok(algorithm) = row.algorithm.parse::<Algorithm>() else {
            tracing::warn!(domain, selector = %row.selector, "unknown DKIM algorithm in the database");
            continue;
        };
        match mailroom_dkim::load(&row.selector, algorithm, &row.private_key) {
            Ok(k) => keys.push(k),
            Err(e) => tracing::warn!(domain, selector = %row.selector, error = %e, "unusable DKIM key"),
        }
    }
    Ok(keys)
}

/// The TXT records a domain must publish for its DKIM keys.
pub fn dkim_records(store: &Store, domain: &str) -> anyhow::Result<Vec<(DkimKeyRow, DnsRecord)>> {
    let mut out = Vec::new();
    for row in store.dkim_keys(domain)? {
        let Ok(algorithm) = row.algorithm.parse::<Algorithm>() else { continue };
        let key = DkimKey {
            selector: row.selector.clone(),
            algorithm,
            private_pkcs8_pem: String::new(),
            public_key_b64: row.public_key.clone(),
        };
        let rec = mailroom_dkim::dns_record(&row.domain, &key);
        out.push((row, rec));
    }
    Ok(out)
}

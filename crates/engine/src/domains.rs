//! Domain operations that span several stores of state: adding a domain
//! also creates its DKIM keys (RSA-2048 and Ed25519), so mail from it can be
//! signed from the first message on. The private keys are stored sealed
//! with `secret.key` ([`crate::secrets`]), never as plain PEM.

use mailroom_dkim::{Algorithm, DkimKey, DnsRecord};
use mailroom_store::{DkimKeyRow, Domain, PEM_PREFIX, Store};

use crate::secrets::SecretBox;

/// Adds a domain, its postmaster account and its DKIM keys.
pub fn add_domain(store: &Store, name: &str) -> anyhow::Result<Domain> {
    // Before anything is stored: without the key there would be no DKIM keys.
    let secrets = SecretBox::for_store(store)?;
    let domain = store.add_domain(name)?;
    let yyyymm = chrono::Utc::now().format("%Y%m").to_string();
    for algorithm in [Algorithm::Rsa2048, Algorithm::Ed25519] {
        let selector = mailroom_dkim::default_selector(algorithm, &yyyymm);
        match mailroom_dkim::generate(algorithm, &selector) {
            Ok(key) => store.add_dkim_key(&DkimKeyRow {
                domain: domain.name.clone(),
                selector: key.selector.clone(),
                algorithm: algorithm.to_string(),
                private_key: secrets.seal(&key.private_pkcs8_pem)?,
                public_key: key.public_key_b64.clone(),
            })?,
            Err(e) => tracing::warn!(domain = %domain.name, %algorithm, error = %e, "could not create a DKIM key"),
        }
    }
    Ok(domain)
}

/// The usable DKIM keys of a domain, decrypted.
pub fn dkim_keys(store: &Store, domain: &str) -> anyhow::Result<Vec<DkimKey>> {
    let rows = store.dkim_keys(domain)?;
    let secrets = if rows.iter().any(|r| !r.private_key.starts_with(PEM_PREFIX)) {
        match SecretBox::for_store(store) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::warn!(domain, error = %e, "DKIM keys cannot be decrypted");
                None
            }
        }
    } else {
        None
    };
    let mut keys = Vec::new();
    for row in rows {
        let Ok(algorithm) = row.algorithm.parse::<Algorithm>() else {
            tracing::warn!(domain, selector = %row.selector, "unknown DKIM algorithm in the database");
            continue;
        };
        let pem = if row.private_key.starts_with(PEM_PREFIX) {
            row.private_key.clone()
        } else {
            let Some(secrets) = &secrets else { continue };
            match secrets.open_secret(&row.private_key) {
                Ok(pem) => pem,
                Err(e) => {
                    tracing::warn!(domain, selector = %row.selector, error = %e, "unusable DKIM key");
                    continue;
                }
            }
        };
        match mailroom_dkim::load(&row.selector, algorithm, &pem) {
            Ok(k) => keys.push(k),
            Err(e) => tracing::warn!(domain, selector = %row.selector, error = %e, "unusable DKIM key"),
        }
    }
    Ok(keys)
}

/// Seals the DKIM private keys that databases of older versions hold as
/// plain PEM. Run at start-up; returns how many it sealed.
pub fn seal_plain_dkim_keys(store: &Store, secrets: &SecretBox) -> anyhow::Result<usize> {
    let mut sealed = 0;
    for (id, value) in store.dkim_private_keys()? {
        if value.starts_with(PEM_PREFIX) && store.reseal_dkim_private_key(id, &value, &secrets.seal(&value)?)? {
            sealed += 1;
        }
    }
    if sealed > 0 {
        tracing::info!(keys = sealed, "DKIM private keys encrypted with the secret key");
    }
    Ok(sealed)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sealed_and_old_plain_keys_get_sealed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        add_domain(&store, "example.test").expect("domain");
        let stored = store.dkim_private_keys().expect("keys");
        assert_eq!(stored.len(), 2);
        assert!(stored.iter().all(|(_, v)| !v.contains("PRIVATE KEY")));
        let keys = dkim_keys(&store, "example.test").expect("load");
        assert_eq!(keys.len(), 2, "both keys decrypt and load");

        // An older version's row: plain PEM. It still loads, and is sealed at start.
        let plain = keys[1].private_pkcs8_pem.clone();
        assert!(plain.starts_with(PEM_PREFIX));
        let (id, old) = stored[1].clone();
        assert!(store.reseal_dkim_private_key(id, &old, &plain).expect("write plain"));
        assert_eq!(dkim_keys(&store, "example.test").expect("load").len(), 2);
        let secrets = SecretBox::for_store(&store).expect("box");
        assert_eq!(seal_plain_dkim_keys(&store, &secrets).expect("seal"), 1);
        assert_eq!(seal_plain_dkim_keys(&store, &secrets).expect("again"), 0);
        assert!(store.dkim_private_keys().expect("keys").iter().all(|(_, v)| !v.starts_with(PEM_PREFIX)));
        let again = dkim_keys(&store, "example.test").expect("load");
        assert_eq!(again[1].private_pkcs8_pem, plain, "the same key after sealing");
    }
}

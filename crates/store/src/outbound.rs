//! Outbound configuration kept in the database: DKIM keys per domain,
//! relays (smarthosts) and per-domain TLS policies. The store keeps them as
//! given; generating keys and encrypting DKIM keys and relay passwords is the
//! engine's job.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::directory::normalize_domain;
use crate::{Error, Result, Store, now_unix};

/// A stored DKIM key.
#[derive(Debug, Clone, Serialize)]
pub struct DkimKeyRow {
    /// Domain it signs for.
    pub domain: String,
    /// DNS selector.
    pub selector: String,
    /// `rsa` or `ed25519`.
    pub algorithm: String,
    /// The private key, sealed by the engine with `secret.key` (plain
    /// PKCS#8 PEM in databases of older versions until the engine seals it).
    #[serde(skip)]
    pub private_key: String,
    /// Base64 public key as published in DNS.
    pub public_key: String,
}

/// A stored relay route. `domain` is empty for the default route.
#[derive(Debug, Clone, Serialize)]
pub struct RelayRow {
    /// Destination domain, or "" for every remote domain.
    pub domain: String,
    /// Relay host.
    pub host: String,
    /// Relay port.
    pub port: u16,
    /// TLS mode name.
    pub tls: String,
    /// Login, if any.
    pub username: Option<String>,
    /// Encrypted password, if any (never shown).
    #[serde(skip)]
    pub secret: Option<String>,
}

impl Store {
    /// Stores a DKIM key for a local domain.
    pub fn add_dkim_key(&self, key: &DkimKeyRow) -> Result<()> {
        let domain = normalize_domain(&key.domain)?;
        let conn = self.conn();
        let id = Self::domain_id(&conn, &domain)?
            .ok_or_else(|| Error::NotFound(format!("the domain {domain} is not served here")))?;
        conn.execute(
            "INSERT INTO dkim_keys (domain_id, selector, algorithm, private_key, public_key, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, key.selector, key.algorithm, key.private_key, key.public_key, now_unix()],
        )?;
        Ok(())
    }

    /// The DKIM keys of a domain, oldest first.
    pub fn dkim_keys(&self, domain: &str) -> Result<Vec<DkimKeyRow>> {
        let domain = normalize_domain(domain)?;
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT d.name, k.selector, k.algorithm, k.private_key, k.public_key FROM dkim_keys k
             JOIN domains d ON d.id = k.domain_id WHERE d.name = ?1 ORDER BY k.id",
        )?;
        let rows = stmt.query_map([domain], |r| {
            Ok(DkimKeyRow {
                domain: r.get(0)?,
                selector: r.get(1)?,
                algorithm: r.get(2)?,
                private_key: r.get(3)?,
                public_key: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Sets the relay for a domain ("" = default route).
    pub fn set_relay(&self, relay: &RelayRow) -> Result<()> {
        let domain = if relay.domain.is_empty() { String::new() } else { normalize_domain(&relay.domain)? };
        self.conn().execute(
            "INSERT INTO relays (domain, host, port, tls, username, secret) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(domain) DO UPDATE SET host = excluded.host, port = excluded.port, tls = excluded.tls,
                username = excluded.username, secret = excluded.secret",
            params![domain, relay.host, relay.port, relay.tls, relay.username, relay.secret],
        )?;
        Ok(())
    }

    /// All relay routes.
    pub fn relays(&self) -> Result<Vec<RelayRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT domain, host, port, tls, username, secret FROM relays ORDER BY domain")?;
        let rows = stmt.query_map([], |r| {
            Ok(RelayRow {
                domain: r.get(0)?,
                host: r.get(1)?,
                port: r.get(2)?,
                tls: r.get(3)?,
                username: r.get(4)?,
                secret: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes a relay route.
    pub fn remove_relay(&self, domain: &str) -> Result<()> {
        let domain = if domain.is_empty() { String::new() } else { normalize_domain(domain)? };
        if self.conn().execute("DELETE FROM relays WHERE domain = ?1", [&domain])? == 0 {
            return Err(Error::NotFound(if domain.is_empty() {
                "there is no default relay".to_string()
            } else {
                format!("there is no relay for {domain}")
            }));
        }
        Ok(())
    }

    /// Sets the STARTTLS policy for a destination domain.
    pub fn set_tls_policy(&self, domain: &str, policy: &str) -> Result<()> {
        let domain = normalize_domain(domain)?;
        self.conn().execute(
            "INSERT INTO tls_policies (domain, policy) VALUES (?1, ?2)
             ON CONFLICT(domain) DO UPDATE SET policy = excluded.policy",
            params![domain, policy],
        )?;
        Ok(())
    }

    /// Per-domain TLS policies.
    pub fn tls_policies(&self) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT domain, policy FROM tls_policies ORDER BY domain")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes a per-domain TLS policy.
    pub fn remove_tls_policy(&self, domain: &str) -> Result<()> {
        let domain = normalize_domain(domain)?;
        if self.conn().execute("DELETE FROM tls_policies WHERE domain = ?1", [&domain])? == 0 {
            return Err(Error::NotFound(format!("there is no TLS policy for {domain}")));
        }
        Ok(())
    }

    /// The policy for one domain, if set.
    pub fn tls_policy(&self, domain: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT policy FROM tls_policies WHERE domain = ?1", [domain.to_lowercase()], |r| r.get(0))
            .optional()?)
    }
}

//! DKIM private keys as stored: sealed by the engine with `secret.key`
//! (the store never sees the plain key any more), or, in databases written
//! by older versions, the PEM text itself until the engine seals it at
//! start ([`Store::dkim_private_keys`], [`Store::reseal_dkim_private_key`]).

use rusqlite::params;

use crate::{Result, Store};

/// How a PEM private key begins; a sealed value never does.
pub const PEM_PREFIX: &str = "-----BEGIN";

impl Store {
    /// Every stored DKIM private key, as `(row id, stored value)`.
    pub fn dkim_private_keys(&self) -> Result<Vec<(i64, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id, private_key FROM dkim_keys ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Replaces the stored value of one DKIM key, if it is still `old`
    /// (another process may have done it first). Returns whether it did.
    pub fn reseal_dkim_private_key(&self, id: i64, old: &str, new: &str) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE dkim_keys SET private_key = ?3 WHERE id = ?1 AND private_key = ?2",
            params![id, old, new],
        )?;
        Ok(n > 0)
    }

    /// Whether anything in the database was sealed with `secret.key`: a
    /// relay password or a DKIM key that is not plain PEM.
    pub fn has_sealed_secrets(&self) -> Result<bool> {
        let conn = self.conn();
        let sealed: i64 = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM relays WHERE secret IS NOT NULL)
                 OR EXISTS (SELECT 1 FROM dkim_keys WHERE substr(private_key, 1, 10) != ?1)",
            [PEM_PREFIX],
            |r| r.get(0),
        )?;
        Ok(sealed != 0)
    }
}

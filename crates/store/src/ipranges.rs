//! IP ranges: which client addresses may connect to which protocols, and
//! which may relay without logging in. The store keeps the rows; parsing the
//! networks and deciding on a connection belong to the engine.

use rusqlite::{OptionalExtension, params};

use crate::{Result, Store};

/// One IP range rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpRangeRow {
    /// Row id.
    pub id: i64,
    /// Network in CIDR form, such as `192.168.0.0/16`.
    pub network: String,
    /// Comma-separated protocol names, or `all`.
    pub protocols: String,
    /// `allow` or `deny`.
    pub action: String,
    /// Clients in this range may relay without logging in.
    pub relay: bool,
    /// Lower numbers are looked at first.
    pub priority: i64,
    /// The admin's description.
    pub note: String,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IpRangeRow> {
    Ok(IpRangeRow {
        id: r.get(0)?,
        network: r.get(1)?,
        protocols: r.get(2)?,
        action: r.get(3)?,
        relay: r.get(4)?,
        priority: r.get(5)?,
        note: r.get(6)?,
    })
}

const COLUMNS: &str = "id, network, protocols, action, relay, priority, note";

impl Store {
    /// Every rule, in the order they are looked at (priority, then id).
    pub fn ip_ranges(&self) -> Result<Vec<IpRangeRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM ip_ranges ORDER BY priority, id"))?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One rule.
    pub fn ip_range(&self, id: i64) -> Result<Option<IpRangeRow>> {
        Ok(self.conn().query_row(&format!("SELECT {COLUMNS} FROM ip_ranges WHERE id = ?1"), [id], row).optional()?)
    }

    /// Adds a rule (its `id` is ignored) and returns it with its new id.
    pub fn add_ip_range(&self, r: &IpRangeRow) -> Result<IpRangeRow> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO ip_ranges (network, protocols, action, relay, priority, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![r.network, r.protocols, r.action, r.relay, r.priority, r.note],
        )?;
        Ok(IpRangeRow { id: conn.last_insert_rowid(), ..r.clone() })
    }

    /// Replaces a rule; false if there is none with that id.
    pub fn update_ip_range(&self, r: &IpRangeRow) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE ip_ranges SET network = ?2, protocols = ?3, action = ?4, relay = ?5, priority = ?6, note = ?7
             WHERE id = ?1",
            params![r.id, r.network, r.protocols, r.action, r.relay, r.priority, r.note],
        )?;
        Ok(n > 0)
    }

    /// Removes a rule; false if there is none with that id.
    pub fn remove_ip_range(&self, id: i64) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM ip_ranges WHERE id = ?1", [id])? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_then_add_update_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let rules = store.ip_ranges().unwrap();
        // Loopback trusted, private LANs allowed but not trusted, everyone else allowed.
        assert!(rules.iter().any(|r| r.network == "127.0.0.0/8" && r.relay && r.action == "allow"));
        assert!(rules.iter().any(|r| r.network == "192.168.0.0/16" && !r.relay && r.action == "allow"));
        assert!(rules.iter().any(|r| r.network == "0.0.0.0/0" && !r.relay));
        assert!(rules.windows(2).all(|w| w[0].priority <= w[1].priority));

        let added = store
            .add_ip_range(&IpRangeRow {
                id: 0,
                network: "203.0.113.0/24".into(),
                protocols: "pop3,imap".into(),
                action: "deny".into(),
                relay: false,
                priority: 5,
                note: "blocked".into(),
            })
            .unwrap();
        assert_eq!(store.ip_ranges().unwrap()[0], added);
        let changed = IpRangeRow { action: "allow".into(), ..added.clone() };
        assert!(store.update_ip_range(&changed).unwrap());
        assert_eq!(store.ip_range(added.id).unwrap(), Some(changed));
        assert!(store.remove_ip_range(added.id).unwrap());
        assert!(!store.remove_ip_range(added.id).unwrap());
        assert_eq!(store.ip_range(added.id).unwrap(), None);
    }
}

//! Recipient resolution: which mailboxes (and forwarding addresses) an
//! envelope recipient stands for.
//!
//! Order for a local domain: account, alias, distribution list, the same
//! again without a `+tag` (plus-addressing), then the domain's catch-all.
//! Aliases and lists expand recursively (at most [`MAX_DEPTH`] levels, each
//! address once), so loops end quietly instead of multiplying mail.

use std::collections::HashSet;

use rusqlite::{OptionalExtension, params};

use crate::directory::split_address;
use crate::{Result, Store};

/// Deepest alias/list nesting followed.
pub const MAX_DEPTH: usize = 8;

/// Where a message for one recipient ends up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A local account's INBOX.
    Account {
        /// Account row id.
        id: i64,
        /// The account's address.
        address: String,
    },
    /// An address outside our domains (an alias or list member forwarding out).
    Remote(String),
}

/// The answer for one recipient address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Not one of our domains.
    Remote,
    /// Ours; deliver to these targets (never empty).
    Local(Vec<Target>),
    /// Ours, but nobody by that name and no catch-all.
    Unknown,
    /// The account exists but is disabled.
    Disabled,
    /// The account is at or over its quota.
    OverQuota,
}

impl Store {
    /// Resolves one envelope recipient.
    pub fn resolve(&self, address: &str) -> Result<Resolution> {
        let address = address.trim().to_lowercase();
        let Some((_, domain)) = split_address(&address) else { return Ok(Resolution::Unknown) };
        let conn = self.conn();
        let Some((_domain_id, catch_all)) = conn
            .query_row("SELECT id, catch_all FROM domains WHERE name = ?1", [domain], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .optional()?
        else {
            return Ok(Resolution::Remote);
        };
        // A direct hit on an account decides disabled / over-quota status.
        if let Some((id, enabled, quota, used)) = direct_account(&conn, &address)? {
            if !enabled {
                return Ok(Resolution::Disabled);
            }
            if quota > 0 && used >= quota {
                return Ok(Resolution::OverQuota);
            }
            return Ok(Resolution::Local(vec![Target::Account { id, address }]));
        }
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        if !expand(&conn, &address, 0, &mut seen, &mut out)?
            && let Some(target) = catch_all
        {
            expand(&conn, &target, 1, &mut seen, &mut out)?;
        }
        dedup(&mut out);
        Ok(if out.is_empty() { Resolution::Unknown } else { Resolution::Local(out) })
    }
}

fn dedup(targets: &mut Vec<Target>) {
    let mut seen = HashSet::new();
    targets.retain(|t| seen.insert(t.clone()));
}

/// (id, enabled, quota, used) of the account with exactly this address.
fn direct_account(conn: &rusqlite::Connection, address: &str) -> Result<Option<(i64, bool, i64, i64)>> {
    let Some((local, domain)) = split_address(address) else { return Ok(None) };
    Ok(conn
        .query_row(
            "SELECT a.id, a.enabled, a.quota_bytes, a.used_bytes
             FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE d.name = ?1 AND a.local_part = ?2",
            params![domain, local],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?)
}

/// Expands `address` into `out`. Returns whether the address matched anything.
fn expand(
    conn: &rusqlite::Connection,
    address: &str,
    depth: usize,
    seen: &mut HashSet<String>,
    out: &mut Vec<Target>,
) -> Result<bool> {
    let address = address.to_lowercase();
    if depth > MAX_DEPTH || !seen.insert(address.clone()) {
        // Already expanded (a loop or a duplicate): it matched before.
        return Ok(true);
    }
    let Some((local, domain)) = split_address(&address) else { return Ok(false) };
    let is_local: bool = conn.prepare_cached("SELECT 1 FROM domains WHERE name = ?1")?.exists([domain])?;
    if !is_local {
        out.push(Target::Remote(address.clone()));
        return Ok(true);
    }
    if let Some((id, enabled, _, _)) = direct_account(conn, &address)? {
        // Disabled members of an alias or list are skipped, not bounced.
        if enabled {
            out.push(Target::Account { id, address: address.clone() });
        }
        return Ok(true);
    }
    let alias_targets: Vec<String> = conn
        .prepare_cached(
            "SELECT a.target FROM aliases a JOIN domains d ON d.id = a.domain_id WHERE d.name = ?1 AND a.local_part = ?2",
        )?
        .query_map(params![domain, local], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if !alias_targets.is_empty() {
        for t in alias_targets {
            expand(conn, &t, depth + 1, seen, out)?;
        }
        return Ok(true);
    }
    let list: Option<i64> = conn
        .prepare_cached(
            "SELECT l.id FROM lists l JOIN domains d ON d.id = l.domain_id WHERE d.name = ?1 AND l.local_part = ?2",
        )?
        .query_row(params![domain, local], |r| r.get(0))
        .optional()?;
    if let Some(list_id) = list {
        let members: Vec<String> = conn
            .prepare_cached("SELECT address FROM list_members WHERE list_id = ?1")?
            .query_map([list_id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for m in members {
            expand(conn, &m, depth + 1, seen, out)?;
        }
        return Ok(true);
    }
    if let Some((base, _tag)) = local.split_once('+')
        && !base.is_empty()
    {
        return expand(conn, &format!("{base}@{domain}"), depth, seen, out);
    }
    Ok(false)
}

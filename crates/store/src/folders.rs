//! Folder management as IMAP sees it: create (with parents), delete, rename
//! (with children), subscriptions, STATUS counters and the \Recent floor.
//!
//! Names are UTF-8 with "/" as the hierarchy separator; "INBOX" is matched
//! case-insensitively and always stored as "INBOX". Every account always has
//! an INBOX, which can be neither deleted nor renamed away (renaming INBOX
//! moves its messages into the new folder, as RFC 3501 prescribes).

use rusqlite::{OptionalExtension, params};

use crate::mailbox::insert_folder;
use crate::{Error, Result, Store};

/// Hierarchy separator.
pub const SEPARATOR: char = '/';

/// A folder's name and attributes, for LIST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderEntry {
    /// Row id.
    pub id: i64,
    /// Full name.
    pub name: String,
    /// Special-use attribute (`\Sent`, ...).
    pub special_use: Option<String>,
}

/// Counters for STATUS and SELECT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderStatus {
    /// Messages in the folder.
    pub messages: u32,
    /// Messages without \Seen.
    pub unseen: u32,
    /// Messages with \Deleted.
    pub deleted: u32,
    /// Messages at or above the \Recent floor.
    pub recent: u32,
    /// Total size in octets.
    pub size: u64,
    /// Next UID.
    pub uid_next: u32,
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// HIGHESTMODSEQ.
    pub highest_modseq: u64,
}

/// "INBOX" in any case becomes "INBOX"; other names are kept as given.
pub fn canonical_name(name: &str) -> String {
    if name.eq_ignore_ascii_case("INBOX") {
        return "INBOX".into();
    }
    match name.split_once(SEPARATOR) {
        Some((first, rest)) if first.eq_ignore_ascii_case("INBOX") => format!("INBOX{SEPARATOR}{rest}"),
        _ => name.to_string(),
    }
}

/// Whether a folder name is acceptable: not empty, no empty levels, no
/// control characters, not too long.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 512
        || name.split(SEPARATOR).any(str::is_empty)
        || name.chars().any(|c| c.is_control())
    {
        return Err(Error::Invalid(format!("\"{name}\" is not a valid folder name")));
    }
    Ok(())
}

fn folder_id(conn: &rusqlite::Connection, account_id: i64, name: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM mailboxes WHERE account_id = ?1 AND name = ?2")?
        .query_row(params![account_id, name], |r| r.get(0))
        .optional()?)
}

/// Creates the missing parents of `name` ("a" and "a/b" for "a/b/c").
fn create_parents(tx: &rusqlite::Connection, account_id: i64, name: &str) -> Result<()> {
    let mut parent = String::new();
    let levels: Vec<&str> = name.split(SEPARATOR).collect();
    for level in &levels[..levels.len().saturating_sub(1)] {
        if !parent.is_empty() {
            parent.push(SEPARATOR);
        }
        parent.push_str(level);
        if folder_id(tx, account_id, &parent)?.is_none() {
            insert_folder(tx, account_id, &parent, None)?;
        }
    }
    Ok(())
}

impl Store {
    /// Every folder of an account, by name.
    pub fn folders(&self, account_id: i64) -> Result<Vec<FolderEntry>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT id, name, special_use FROM mailboxes WHERE account_id = ?1 ORDER BY name")?;
        let rows = stmt
            .query_map([account_id], |r| Ok(FolderEntry { id: r.get(0)?, name: r.get(1)?, special_use: r.get(2)? }))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Creates a folder and any missing parents. Fails if it exists.
    pub fn create_folder(&self, account_id: i64, name: &str, special_use: Option<&str>) -> Result<i64> {
        let name = canonical_name(name.trim_end_matches(SEPARATOR));
        check_name(&name)?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if folder_id(&tx, account_id, &name)?.is_some() {
            return Err(Error::Exists(format!("a folder named \"{name}\" exists already")));
        }
        create_parents(&tx, account_id, &name)?;
        let id = insert_folder(&tx, account_id, &name, special_use)?;
        tx.commit()?;
        Ok(id)
    }

    /// Deletes a folder and its messages. INBOX cannot be deleted, and a
    /// folder with subfolders is refused ([`Error::HasChildren`]).
    pub fn delete_folder(&self, account_id: i64, name: &str) -> Result<()> {
        let name = canonical_name(name);
        if name == "INBOX" {
            return Err(Error::Invalid("the INBOX cannot be deleted".into()));
        }
        let released = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            let Some(id) = folder_id(&tx, account_id, &name)? else {
                return Err(Error::NotFound(format!("there is no folder named \"{name}\"")));
            };
            let children: bool = tx
                .prepare("SELECT 1 FROM mailboxes WHERE account_id = ?1 AND substr(name, 1, length(?2)) = ?2")?
                .exists(params![account_id, format!("{name}{SEPARATOR}")])?;
            if children {
                return Err(Error::HasChildren(format!("\"{name}\" has subfolders; delete them first")));
            }
            let released: Vec<String> = {
                let mut stmt = tx.prepare("SELECT message_id FROM mailbox_messages WHERE mailbox_id = ?1")?;
                stmt.query_map([id], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
            };
            tx.execute("DELETE FROM mailboxes WHERE id = ?1", [id])?;
            tx.commit()?;
            released
        };
        self.release_messages(&released)?;
        Ok(())
    }

    /// Renames a folder and its subfolders. Renaming INBOX moves all its
    /// messages into a new folder and leaves INBOX empty.
    pub fn rename_folder(&self, account_id: i64, from: &str, to: &str) -> Result<()> {
        let from = canonical_name(from);
        let to = canonical_name(to.trim_end_matches(SEPARATOR));
        check_name(&to)?;
        if to == "INBOX" || to.starts_with(&format!("{from}{SEPARATOR}")) {
            return Err(Error::Invalid(format!("a folder cannot be renamed to \"{to}\"")));
        }
        if from == "INBOX" {
            return self.rename_inbox(account_id, &to);
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if folder_id(&tx, account_id, &from)?.is_none() {
            return Err(Error::NotFound(format!("there is no folder named \"{from}\"")));
        }
        if folder_id(&tx, account_id, &to)?.is_some() {
            return Err(Error::Exists(format!("a folder named \"{to}\" exists already")));
        }
        let prefix = format!("{from}{SEPARATOR}");
        let moved: Vec<(i64, String)> = {
            let mut stmt = tx.prepare(
                "SELECT id, name FROM mailboxes
                 WHERE account_id = ?1 AND (name = ?2 OR substr(name, 1, length(?3)) = ?3)",
            )?;
            stmt.query_map(params![account_id, from, prefix], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        for (id, old) in moved {
            let new = format!("{to}{}", &old[from.len()..]);
            tx.execute("UPDATE mailboxes SET name = ?1 WHERE id = ?2", params![new, id])?;
            tx.execute(
                "UPDATE subscriptions SET name = ?1 WHERE account_id = ?2 AND name = ?3",
                params![new, account_id, old],
            )?;
        }
        create_parents(&tx, account_id, &to)?;
        tx.commit()?;
        Ok(())
    }

    fn rename_inbox(&self, account_id: i64, to: &str) -> Result<()> {
        let inbox = {
            let conn = self.conn();
            folder_id(&conn, account_id, "INBOX")?
        };
        let Some(inbox) = inbox else { return Err(Error::NotFound("there is no INBOX".into())) };
        let target = self.create_folder(account_id, to, None)?;
        let uids: Vec<u32> = self.messages(inbox)?.iter().map(|m| m.uid).collect();
        self.move_messages(inbox, &uids, target)?;
        Ok(())
    }

    /// Adds a subscription (the folder need not exist).
    pub fn subscribe(&self, account_id: i64, name: &str) -> Result<()> {
        let name = canonical_name(name);
        check_name(&name)?;
        self.conn().execute(
            "INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?1, ?2)",
            params![account_id, name],
        )?;
        Ok(())
    }

    /// Removes a subscription.
    pub fn unsubscribe(&self, account_id: i64, name: &str) -> Result<()> {
        let name = canonical_name(name);
        let n = self
            .conn()
            .execute("DELETE FROM subscriptions WHERE account_id = ?1 AND name = ?2", params![account_id, name])?;
        if n == 0 {
            return Err(Error::NotFound(format!("\"{name}\" is not subscribed")));
        }
        Ok(())
    }

    /// Subscribed names, existing or not.
    pub fn subscriptions(&self, account_id: i64) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT name FROM subscriptions WHERE account_id = ?1 ORDER BY name")?;
        let rows = stmt.query_map([account_id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// STATUS counters of a folder.
    pub fn folder_status(&self, mailbox_id: i64) -> Result<FolderStatus> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT b.uid_next, b.uid_validity, b.highest_modseq,
                    COUNT(mm.uid),
                    COALESCE(SUM(CASE WHEN mm.uid IS NULL OR (' ' || mm.flags || ' ') LIKE '% \\Seen %' THEN 0 ELSE 1 END), 0),
                    COALESCE(SUM(CASE WHEN (' ' || mm.flags || ' ') LIKE '% \\Deleted %' THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN mm.uid >= b.recent_floor THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(m.size), 0)
             FROM mailboxes b
             LEFT JOIN mailbox_messages mm ON mm.mailbox_id = b.id
             LEFT JOIN messages m ON m.id = mm.message_id
             WHERE b.id = ?1 GROUP BY b.id",
        )?;
        let status = stmt
            .query_row([mailbox_id], |r| {
                Ok(FolderStatus {
                    uid_next: r.get(0)?,
                    uid_validity: r.get(1)?,
                    highest_modseq: r.get::<_, i64>(2)?.max(0) as u64,
                    messages: r.get(3)?,
                    unseen: r.get(4)?,
                    deleted: r.get(5)?,
                    recent: r.get(6)?,
                    size: r.get::<_, i64>(7)?.max(0) as u64,
                })
            })
            .optional()?;
        status.ok_or_else(|| Error::NotFound("the folder no longer exists".into()))
    }

    /// Claims the \Recent messages of a folder for one session: returns the
    /// lowest UID that is recent for it and moves the floor to UIDNEXT, so no
    /// other session sees them as recent.
    pub fn claim_recent(&self, mailbox_id: i64) -> Result<u32> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let floor: u32 =
            tx.query_row("SELECT recent_floor FROM mailboxes WHERE id = ?1", [mailbox_id], |r| r.get(0))?;
        tx.execute("UPDATE mailboxes SET recent_floor = uid_next WHERE id = ?1", [mailbox_id])?;
        tx.commit()?;
        Ok(floor)
    }

    /// Claims the \Recent messages of a folder up to (not including) UID
    /// `until` for one session: returns the old floor and moves it to
    /// `until` if that is higher. The session then holds `old..until` as
    /// \Recent, and no other session sees those messages as recent (RFC 3501
    /// section 2.3.2). Messages the session has not seen yet stay unclaimed.
    pub fn claim_recent_until(&self, mailbox_id: i64, until: u32) -> Result<u32> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let floor: u32 =
            tx.query_row("SELECT recent_floor FROM mailboxes WHERE id = ?1", [mailbox_id], |r| r.get(0))?;
        if until > floor {
            tx.execute("UPDATE mailboxes SET recent_floor = ?2 WHERE id = ?1", params![mailbox_id, until])?;
        }
        tx.commit()?;
        Ok(floor)
    }

    /// Total octets stored in an account's folders, for quota checks.
    pub fn account_usage(&self, account_id: i64) -> Result<u64> {
        account_usage_in(&self.conn(), account_id)
    }
}

/// Total octets stored in an account's folders, inside a caller's
/// connection or transaction: the running figure the schema's triggers keep
/// (see migration 6), not a sum over the messages.
pub(crate) fn account_usage_in(conn: &rusqlite::Connection, account_id: i64) -> Result<u64> {
    use rusqlite::OptionalExtension;
    let used: Option<i64> = conn
        .prepare_cached("SELECT used_bytes FROM accounts WHERE id = ?1")?
        .query_row([account_id], |r| r.get(0))
        .optional()?;
    Ok(used.unwrap_or(0).max(0) as u64)
}

/// The same total summed over the account's messages (for checking the
/// running figure).
#[cfg(test)]
pub(crate) fn account_usage_summed(conn: &rusqlite::Connection, account_id: i64) -> Result<u64> {
    let used: i64 = conn.query_row(
        "SELECT COALESCE(SUM(m.size), 0) FROM mailboxes b
           JOIN mailbox_messages mm ON mm.mailbox_id = b.id
           JOIN messages m ON m.id = mm.message_id WHERE b.account_id = ?1",
        [account_id],
        |r| r.get(0),
    )?;
    Ok(used.max(0) as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::{AppendItem, Store};

    #[test]
    fn recent_claims_stop_at_what_the_session_has_seen() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.add_domain("example.test").unwrap();
        let a = s.add_account("alice@example.test", Some("pw"), 0).unwrap().id;
        let inbox = s.mailbox(a, "INBOX").unwrap().unwrap().id;
        let item = AppendItem { flags: String::new(), internal_date: None, data: b"a\r\n", file: None };
        s.append(inbox, &[item.clone(), item.clone(), item]).unwrap();
        // The first session saw UIDs 1 and 2 only: 3 stays for the next one.
        assert_eq!(s.claim_recent_until(inbox, 3).unwrap(), 1);
        assert_eq!(s.folder_status(inbox).unwrap().recent, 1);
        assert_eq!(s.claim_recent_until(inbox, 2).unwrap(), 3, "a lower claim never moves the floor back");
        assert_eq!(s.claim_recent_until(inbox, 4).unwrap(), 3);
        assert_eq!(s.folder_status(inbox).unwrap().recent, 0);
    }
}

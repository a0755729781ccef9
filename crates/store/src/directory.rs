//! Domains, accounts, aliases, distribution lists and catch-all addresses.
//!
//! Addresses are stored lower-case; domain and local-part comparisons are
//! case-insensitive. Every domain gets a `postmaster` account when it is
//! added, and every account gets the default folders when it is created.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::mailbox::create_default_folders;
use crate::{Error, Result, Store, now_unix, password};

/// A local domain.
#[derive(Debug, Clone, Serialize)]
pub struct Domain {
    /// Row id.
    pub id: i64,
    /// Domain name, lower-case.
    pub name: String,
    /// Where mail for unknown local parts goes, if anywhere.
    pub catch_all: Option<String>,
    /// Number of accounts in the domain.
    pub accounts: i64,
}

/// A mailbox owner who can log in.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    /// Row id.
    pub id: i64,
    /// Full address, lower-case.
    pub address: String,
    /// Quota in bytes; 0 means unlimited.
    pub quota_bytes: i64,
    /// Bytes stored in all of the account's folders.
    pub used_bytes: i64,
    /// Disabled accounts receive nothing and cannot log in.
    pub enabled: bool,
    /// Whether the account may administer the server.
    pub is_admin: bool,
    /// Whether a password is set (accounts without one cannot log in).
    pub has_password: bool,
}

/// An alias: mail to `address` goes to each of `targets`.
#[derive(Debug, Clone, Serialize)]
pub struct Alias {
    /// The alias address.
    pub address: String,
    /// Where its mail goes.
    pub targets: Vec<String>,
}

/// A distribution list and its members.
#[derive(Debug, Clone, Serialize)]
pub struct ListInfo {
    /// The list's address.
    pub address: String,
    /// Member addresses (local or remote).
    pub members: Vec<String>,
}

/// Splits `local@domain`; both parts must be non-empty.
pub fn split_address(addr: &str) -> Option<(&str, &str)> {
    let (local, domain) = addr.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() { None } else { Some((local, domain)) }
}

/// Checks and lower-cases an address typed by an admin or sent by a client.
pub fn normalize_address(addr: &str) -> Result<String> {
    let addr = addr.trim();
    let Some((local, domain)) = split_address(addr) else {
        return Err(Error::Invalid(format!("\"{addr}\" is not an e-mail address; write it like name@example.com")));
    };
    if local.len() > 64 || local.chars().any(|c| c.is_control() || c.is_whitespace() || "<>(),;:\\\"[]".contains(c)) {
        return Err(Error::Invalid(format!("\"{local}\" is not a valid name before the @")));
    }
    let domain = normalize_domain(domain)?;
    Ok(format!("{}@{domain}", local.to_lowercase()))
}

/// Checks and lower-cases a domain name.
pub fn normalize_domain(domain: &str) -> Result<String> {
    let d = domain.trim().trim_end_matches('.').to_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if ok { Ok(d) } else { Err(Error::Invalid(format!("\"{domain}\" is not a valid domain name"))) }
}

impl Store {
    pub(crate) fn domain_id(conn: &rusqlite::Connection, name: &str) -> Result<Option<i64>> {
        Ok(conn.query_row("SELECT id FROM domains WHERE name = ?1", [name], |r| r.get(0)).optional()?)
    }

    fn require_domain(conn: &rusqlite::Connection, name: &str) -> Result<i64> {
        Self::domain_id(conn, name)?.ok_or_else(|| {
            Error::NotFound(format!("the domain {name} is not served here; add it first with \"domain add {name}\""))
        })
    }

    /// Whether `domain` is one of ours.
    pub fn is_local_domain(&self, domain: &str) -> Result<bool> {
        let d = domain.trim_end_matches('.').to_lowercase();
        Ok(Self::domain_id(&self.conn(), &d)?.is_some())
    }

    /// Adds a local domain and its postmaster account (no password yet).
    pub fn add_domain(&self, name: &str) -> Result<Domain> {
        let name = normalize_domain(name)?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if Self::domain_id(&tx, &name)?.is_some() {
            return Err(Error::Exists(format!("the domain {name} already exists")));
        }
        tx.execute("INSERT INTO domains (name, created_at) VALUES (?1, ?2)", params![name, now_unix()])?;
        let id = tx.last_insert_rowid();
        insert_account(&tx, id, "postmaster", None, 0, false)?;
        tx.commit()?;
        tracing::info!(domain = %name, "domain added");
        Ok(Domain { id, name, catch_all: None, accounts: 1 })
    }

    /// Lists local domains.
    pub fn list_domains(&self) -> Result<Vec<Domain>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT d.id, d.name, d.catch_all, (SELECT COUNT(*) FROM accounts a WHERE a.domain_id = d.id)
             FROM domains d ORDER BY d.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Domain { id: r.get(0)?, name: r.get(1)?, catch_all: r.get(2)?, accounts: r.get(3)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes a domain with all its accounts, mail, aliases and lists.
    pub fn remove_domain(&self, name: &str) -> Result<()> {
        let name = normalize_domain(name)?;
        {
            let conn = self.conn();
            let id = Self::require_domain(&conn, &name)?;
            conn.execute("DELETE FROM domains WHERE id = ?1", [id])?;
        }
        self.collect_garbage()?;
        tracing::info!(domain = %name, "domain removed");
        Ok(())
    }

    /// Sets (or with `None` clears) the catch-all address of a domain.
    pub fn set_catch_all(&self, domain: &str, target: Option<&str>) -> Result<()> {
        let domain = normalize_domain(domain)?;
        let target = target.map(normalize_address).transpose()?;
        let conn = self.conn();
        let id = Self::require_domain(&conn, &domain)?;
        conn.execute("UPDATE domains SET catch_all = ?1 WHERE id = ?2", params![target, id])?;
        Ok(())
    }

    /// Creates an account with its default folders.
    pub fn add_account(&self, address: &str, password: Option<&str>, quota_bytes: i64) -> Result<Account> {
        let address = normalize_address(address)?;
        let hash = password.map(password::hash).transpose()?;
        let (local, domain) = split_address(&address).ok_or_else(|| Error::Invalid(address.clone()))?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let domain_id = Self::require_domain(&tx, domain)?;
        let exists: bool = tx
            .prepare("SELECT 1 FROM accounts WHERE domain_id = ?1 AND local_part = ?2")?
            .exists(params![domain_id, local])?;
        if exists {
            return Err(Error::Exists(format!("the account {address} already exists")));
        }
        if Self::alias_or_list_exists(&tx, domain_id, local)? {
            return Err(Error::Exists(format!("{address} is already an alias or a distribution list")));
        }
        let id = insert_account(&tx, domain_id, local, hash.as_deref(), quota_bytes, false)?;
        tx.commit()?;
        drop(conn);
        tracing::info!(account = %address, "account added");
        self.account(&address)?.ok_or_else(|| Error::NotFound(format!("account {id} vanished")))
    }

    fn alias_or_list_exists(conn: &rusqlite::Connection, domain_id: i64, local: &str) -> Result<bool> {
        Ok(conn
            .prepare(
                "SELECT 1 FROM aliases WHERE domain_id = ?1 AND local_part = ?2
                 UNION ALL SELECT 1 FROM lists WHERE domain_id = ?1 AND local_part = ?2",
            )?
            .exists(params![domain_id, local])?)
    }

    const ACCOUNT_SELECT: &'static str = "SELECT a.id, a.local_part || '@' || d.name, a.quota_bytes, a.used_bytes,
            a.enabled, a.is_admin, a.password_hash IS NOT NULL
         FROM accounts a JOIN domains d ON d.id = a.domain_id";

    fn account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
        Ok(Account {
            id: r.get(0)?,
            address: r.get(1)?,
            quota_bytes: r.get(2)?,
            used_bytes: r.get(3)?,
            enabled: r.get(4)?,
            is_admin: r.get(5)?,
            has_password: r.get(6)?,
        })
    }

    /// Looks an account up by address.
    pub fn account(&self, address: &str) -> Result<Option<Account>> {
        let address = normalize_address(address)?;
        let Some((local, domain)) = split_address(&address) else { return Ok(None) };
        let conn = self.conn();
        let sql = format!("{} WHERE d.name = ?1 AND a.local_part = ?2", Self::ACCOUNT_SELECT);
        Ok(conn.query_row(&sql, params![domain, local], Self::account_row).optional()?)
    }

    /// Looks an account up by id.
    pub fn account_by_id(&self, id: i64) -> Result<Option<Account>> {
        let conn = self.conn();
        let sql = format!("{} WHERE a.id = ?1", Self::ACCOUNT_SELECT);
        Ok(conn.query_row(&sql, [id], Self::account_row).optional()?)
    }

    /// Lists accounts, optionally of one domain.
    pub fn list_accounts(&self, domain: Option<&str>) -> Result<Vec<Account>> {
        let conn = self.conn();
        let sql = format!("{} WHERE ?1 IS NULL OR d.name = ?1 ORDER BY d.name, a.local_part", Self::ACCOUNT_SELECT);
        let domain = domain.map(normalize_domain).transpose()?;
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([domain], Self::account_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn update_account(&self, address: &str, sql: &str, value: &dyn rusqlite::ToSql) -> Result<()> {
        let account =
            self.account(address)?.ok_or_else(|| Error::NotFound(format!("there is no account {address}")))?;
        self.conn().execute(sql, params![value, account.id])?;
        Ok(())
    }

    /// Sets an account's password.
    pub fn set_password(&self, address: &str, password: &str) -> Result<()> {
        let hash = password::hash(password)?;
        self.update_account(address, "UPDATE accounts SET password_hash = ?1 WHERE id = ?2", &hash)
    }

    /// Sets an account's quota in bytes (0 = unlimited).
    pub fn set_quota(&self, address: &str, quota_bytes: i64) -> Result<()> {
        if quota_bytes < 0 {
            return Err(Error::Invalid("the quota cannot be negative".into()));
        }
        self.update_account(address, "UPDATE accounts SET quota_bytes = ?1 WHERE id = ?2", &quota_bytes)
    }

    /// Enables or disables an account.
    pub fn set_enabled(&self, address: &str, enabled: bool) -> Result<()> {
        self.update_account(address, "UPDATE accounts SET enabled = ?1 WHERE id = ?2", &enabled)
    }

    /// Removes an account and all its mail.
    pub fn remove_account(&self, address: &str) -> Result<()> {
        let account =
            self.account(address)?.ok_or_else(|| Error::NotFound(format!("there is no account {address}")))?;
        self.conn().execute("DELETE FROM accounts WHERE id = ?1", [account.id])?;
        self.collect_garbage()?;
        tracing::info!(account = %account.address, "account removed");
        Ok(())
    }

    /// Checks a login. `login` is a full address, or a bare name completed
    /// with `default_domain`. Returns the account only if the password is
    /// right and the account is enabled.
    pub fn authenticate(&self, login: &str, password: &str, default_domain: Option<&str>) -> Result<Option<Account>> {
        let login = login.trim();
        let address = match (login.contains('@'), default_domain) {
            (true, _) => login.to_string(),
            (false, Some(d)) if !d.is_empty() => format!("{login}@{d}"),
            (false, _) => {
                password::verify_dummy(password);
                return Ok(None);
            }
        };
        let Ok(address) = normalize_address(&address) else {
            password::verify_dummy(password);
            return Ok(None);
        };
        let row: Option<(i64, Option<String>, bool)> = {
            let conn = self.conn();
            let (local, domain) = split_address(&address).unwrap_or(("", ""));
            conn.query_row(
                "SELECT a.id, a.password_hash, a.enabled FROM accounts a JOIN domains d ON d.id = a.domain_id
                 WHERE d.name = ?1 AND a.local_part = ?2",
                params![domain, local],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?
        };
        match row {
            Some((id, Some(hash), enabled)) => {
                if password::verify(password, &hash) && enabled {
                    self.account_by_id(id)
                } else {
                    Ok(None)
                }
            }
            _ => {
                password::verify_dummy(password);
                Ok(None)
            }
        }
    }

    /// Adds targets to an alias (creating it).
    pub fn add_alias(&self, address: &str, targets: &[String]) -> Result<()> {
        let address = normalize_address(address)?;
        if targets.is_empty() {
            return Err(Error::Invalid("name at least one address the alias forwards to".into()));
        }
        let targets = targets.iter().map(|t| normalize_address(t)).collect::<Result<Vec<_>>>()?;
        let (local, domain) = split_address(&address).ok_or_else(|| Error::Invalid(address.clone()))?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let domain_id = Self::require_domain(&tx, domain)?;
        let clash = tx
            .prepare(
                "SELECT 1 FROM accounts WHERE domain_id = ?1 AND local_part = ?2
                 UNION ALL SELECT 1 FROM lists WHERE domain_id = ?1 AND local_part = ?2",
            )?
            .exists(params![domain_id, local])?;
        if clash {
            return Err(Error::Exists(format!("{address} is already an account or a distribution list")));
        }
        for t in &targets {
            if *t == address {
                return Err(Error::Invalid("an alias cannot point to itself".into()));
            }
            tx.execute(
                "INSERT OR IGNORE INTO aliases (domain_id, local_part, target) VALUES (?1, ?2, ?3)",
                params![domain_id, local, t],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes an alias, or only one of its targets.
    pub fn remove_alias(&self, address: &str, target: Option<&str>) -> Result<()> {
        let address = normalize_address(address)?;
        let (local, domain) = split_address(&address).ok_or_else(|| Error::Invalid(address.clone()))?;
        let conn = self.conn();
        let domain_id = Self::require_domain(&conn, domain)?;
        let n = match target {
            Some(t) => conn.execute(
                "DELETE FROM aliases WHERE domain_id = ?1 AND local_part = ?2 AND target = ?3",
                params![domain_id, local, normalize_address(t)?],
            )?,
            None => {
                conn.execute("DELETE FROM aliases WHERE domain_id = ?1 AND local_part = ?2", params![domain_id, local])?
            }
        };
        if n == 0 {
            return Err(Error::NotFound(format!("there is no alias {address}")));
        }
        Ok(())
    }

    /// Lists aliases.
    pub fn list_aliases(&self) -> Result<Vec<Alias>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT a.local_part || '@' || d.name, a.target FROM aliases a JOIN domains d ON d.id = a.domain_id
             ORDER BY d.name, a.local_part, a.target",
        )?;
        let mut out: Vec<Alias> = Vec::new();
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (addr, target) = row?;
            match out.last_mut() {
                Some(a) if a.address == addr => a.targets.push(target),
                _ => out.push(Alias { address: addr, targets: vec![target] }),
            }
        }
        Ok(out)
    }

    /// Creates a distribution list.
    pub fn add_list(&self, address: &str) -> Result<()> {
        let address = normalize_address(address)?;
        let (local, domain) = split_address(&address).ok_or_else(|| Error::Invalid(address.clone()))?;
        let conn = self.conn();
        let domain_id = Self::require_domain(&conn, domain)?;
        let clash = conn
            .prepare(
                "SELECT 1 FROM accounts WHERE domain_id = ?1 AND local_part = ?2
                 UNION ALL SELECT 1 FROM aliases WHERE domain_id = ?1 AND local_part = ?2
                 UNION ALL SELECT 1 FROM lists WHERE domain_id = ?1 AND local_part = ?2",
            )?
            .exists(params![domain_id, local])?;
        if clash {
            return Err(Error::Exists(format!("{address} is already in use")));
        }
        conn.execute("INSERT INTO lists (domain_id, local_part) VALUES (?1, ?2)", params![domain_id, local])?;
        Ok(())
    }

    fn list_id(conn: &rusqlite::Connection, address: &str) -> Result<i64> {
        let (local, domain) = split_address(address).ok_or_else(|| Error::Invalid(address.to_string()))?;
        conn.query_row(
            "SELECT l.id FROM lists l JOIN domains d ON d.id = l.domain_id WHERE d.name = ?1 AND l.local_part = ?2",
            params![domain, local],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("there is no distribution list {address}")))
    }

    /// Removes a distribution list.
    pub fn remove_list(&self, address: &str) -> Result<()> {
        let address = normalize_address(address)?;
        let conn = self.conn();
        let id = Self::list_id(&conn, &address)?;
        conn.execute("DELETE FROM lists WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Adds a member (local or remote address) to a list.
    pub fn add_list_member(&self, list: &str, member: &str) -> Result<()> {
        let list = normalize_address(list)?;
        let member = normalize_address(member)?;
        if list == member {
            return Err(Error::Invalid("a list cannot be a member of itself".into()));
        }
        let conn = self.conn();
        let id = Self::list_id(&conn, &list)?;
        conn.execute("INSERT OR IGNORE INTO list_members (list_id, address) VALUES (?1, ?2)", params![id, member])?;
        Ok(())
    }

    /// Removes a member from a list.
    pub fn remove_list_member(&self, list: &str, member: &str) -> Result<()> {
        let list = normalize_address(list)?;
        let member = normalize_address(member)?;
        let conn = self.conn();
        let id = Self::list_id(&conn, &list)?;
        if conn.execute("DELETE FROM list_members WHERE list_id = ?1 AND address = ?2", params![id, member])? == 0 {
            return Err(Error::NotFound(format!("{member} is not a member of {list}")));
        }
        Ok(())
    }

    /// Lists distribution lists with their members.
    pub fn list_lists(&self) -> Result<Vec<ListInfo>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT l.local_part || '@' || d.name, m.address FROM lists l JOIN domains d ON d.id = l.domain_id
             LEFT JOIN list_members m ON m.list_id = l.id ORDER BY d.name, l.local_part, m.address",
        )?;
        let mut out: Vec<ListInfo> = Vec::new();
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)))? {
            let (addr, member) = row?;
            if out.last().map(|l| l.address != addr).unwrap_or(true) {
                out.push(ListInfo { address: addr, members: Vec::new() });
            }
            if let (Some(m), Some(l)) = (member, out.last_mut()) {
                l.members.push(m);
            }
        }
        Ok(out)
    }
}

fn insert_account(
    tx: &rusqlite::Connection,
    domain_id: i64,
    local: &str,
    hash: Option<&str>,
    quota: i64,
    admin: bool,
) -> Result<i64> {
    tx.execute(
        "INSERT INTO accounts (domain_id, local_part, password_hash, quota_bytes, is_admin, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![domain_id, local, hash, quota, admin, now_unix()],
    )?;
    let id = tx.last_insert_rowid();
    create_default_folders(tx, id)?;
    Ok(id)
}

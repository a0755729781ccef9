//! Versioned schema migrations, tracked in SQLite's `user_version`.
//!
//! Each entry of [`MIGRATIONS`] moves the schema one version forward and runs
//! in its own transaction. Never edit a released migration; append a new one.

use rusqlite::Connection;

use crate::{Error, Result};

/// The migrations, in order; version N is reached after `MIGRATIONS[N-1]`.
pub const MIGRATIONS: &[&str] = &[
    // 1: directory, mailboxes, messages, queue, settings.
    "CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE domains (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        catch_all TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
        local_part TEXT NOT NULL COLLATE NOCASE,
        password_hash TEXT,
        quota_bytes INTEGER NOT NULL DEFAULT 0,
        enabled INTEGER NOT NULL DEFAULT 1,
        is_admin INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        UNIQUE (domain_id, local_part)
    );
    CREATE TABLE aliases (
        id INTEGER PRIMARY KEY,
        domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
        local_part TEXT NOT NULL COLLATE NOCASE,
        target TEXT NOT NULL COLLATE NOCASE,
        UNIQUE (domain_id, local_part, target)
    );
    CREATE TABLE lists (
        id INTEGER PRIMARY KEY,
        domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
        local_part TEXT NOT NULL COLLATE NOCASE,
        UNIQUE (domain_id, local_part)
    );
    CREATE TABLE list_members (
        list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
        address TEXT NOT NULL COLLATE NOCASE,
        PRIMARY KEY (list_id, address)
    );
    CREATE TABLE mailboxes (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        special_use TEXT,
        uid_validity INTEGER NOT NULL,
        uid_next INTEGER NOT NULL DEFAULT 1,
        highest_modseq INTEGER NOT NULL DEFAULT 1,
        subscribed INTEGER NOT NULL DEFAULT 1,
        UNIQUE (account_id, name)
    );
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        received_at INTEGER NOT NULL
    );
    CREATE TABLE mailbox_messages (
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid INTEGER NOT NULL,
        message_id TEXT NOT NULL REFERENCES messages(id),
        flags TEXT NOT NULL DEFAULT '',
        internal_date INTEGER NOT NULL,
        modseq INTEGER NOT NULL,
        PRIMARY KEY (mailbox_id, uid)
    ) WITHOUT ROWID;
    CREATE INDEX mailbox_messages_by_message ON mailbox_messages(message_id);
    CREATE TABLE queue (
        id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL REFERENCES messages(id),
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'queued',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX queue_by_due ON queue(status, next_attempt_at);
    CREATE INDEX queue_by_message ON queue(message_id);",
    // 2: outbound delivery: DKIM keys, relays, TLS policies, queue bookkeeping.
    "CREATE TABLE dkim_keys (
        id INTEGER PRIMARY KEY,
        domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
        selector TEXT NOT NULL,
        algorithm TEXT NOT NULL,
        private_key TEXT NOT NULL,
        public_key TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (domain_id, selector)
    );
    CREATE TABLE relays (
        domain TEXT PRIMARY KEY COLLATE NOCASE,
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        tls TEXT NOT NULL,
        username TEXT,
        secret TEXT
    );
    CREATE TABLE tls_policies (
        domain TEXT PRIMARY KEY COLLATE NOCASE,
        policy TEXT NOT NULL
    );
    ALTER TABLE queue ADD COLUMN warned INTEGER NOT NULL DEFAULT 0;",
    // 3: IMAP: expunged UIDs (for QRESYNC), subscriptions, the Recent flag floor, change lookups.
    "CREATE TABLE expunged (
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid INTEGER NOT NULL,
        modseq INTEGER NOT NULL,
        PRIMARY KEY (mailbox_id, uid)
    ) WITHOUT ROWID;
    CREATE INDEX expunged_by_modseq ON expunged(mailbox_id, modseq);
    CREATE INDEX mailbox_messages_by_modseq ON mailbox_messages(mailbox_id, modseq);
    CREATE TABLE subscriptions (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        PRIMARY KEY (account_id, name)
    ) WITHOUT ROWID;
    INSERT INTO subscriptions (account_id, name) SELECT account_id, name FROM mailboxes WHERE subscribed = 1;
    ALTER TABLE mailboxes ADD COLUMN recent_floor INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE accounts ADD COLUMN last_uid_validity INTEGER NOT NULL DEFAULT 0;",
    // 4: IP ranges: loopback trusted to relay, private networks allowed without relay, everyone else allowed.
    "CREATE TABLE ip_ranges (
        id INTEGER PRIMARY KEY,
        network TEXT NOT NULL,
        protocols TEXT NOT NULL DEFAULT 'all',
        action TEXT NOT NULL CHECK (action IN ('allow', 'deny')),
        relay INTEGER NOT NULL DEFAULT 0,
        priority INTEGER NOT NULL DEFAULT 100,
        note TEXT NOT NULL DEFAULT ''
    );
    INSERT INTO ip_ranges (network, protocols, action, relay, priority, note) VALUES
        ('127.0.0.0/8', 'all', 'allow', 1, 10, 'This computer'),
        ('::1/128', 'all', 'allow', 1, 10, 'This computer'),
        ('10.0.0.0/8', 'all', 'allow', 0, 20, 'Local network'),
        ('172.16.0.0/12', 'all', 'allow', 0, 20, 'Local network'),
        ('192.168.0.0/16', 'all', 'allow', 0, 20, 'Local network'),
        ('fc00::/7', 'all', 'allow', 0, 20, 'Local network'),
        ('fe80::/10', 'all', 'allow', 0, 20, 'Local network'),
        ('0.0.0.0/0', 'all', 'allow', 0, 1000, 'Everyone else'),
        ('::/0', 'all', 'allow', 0, 1000, 'Everyone else');
    -- An admin who chose trusted_networks keeps exactly that choice: loopback relays by default only.
    UPDATE ip_ranges SET relay = 0 WHERE EXISTS (SELECT 1 FROM settings WHERE key = 'trusted_networks');",
    // 5: statistics rollups: one counter per granularity, bucket, metric and scope.
    "CREATE TABLE stats (
        granularity TEXT NOT NULL,
        bucket_start INTEGER NOT NULL,
        metric TEXT NOT NULL,
        scope TEXT NOT NULL DEFAULT '',
        count INTEGER NOT NULL,
        PRIMARY KEY (granularity, bucket_start, metric, scope)
    ) WITHOUT ROWID;",
    // 6: whether a queued message may carry our DKIM signature (its From: was checked on the way in).
    // Rows queued before this version were not checked, so they stay unsigned.
    "ALTER TABLE queue ADD COLUMN signable INTEGER NOT NULL DEFAULT 0;",
    // 7: running mailbox usage per account, kept by triggers in the same
    // transaction as every change of a folder's messages (quota checks read
    // one column instead of summing the account's messages).
    "ALTER TABLE accounts ADD COLUMN used_bytes INTEGER NOT NULL DEFAULT 0;
    UPDATE accounts SET used_bytes = (SELECT COALESCE(SUM(m.size), 0) FROM mailboxes b
        JOIN mailbox_messages mm ON mm.mailbox_id = b.id
        JOIN messages m ON m.id = mm.message_id WHERE b.account_id = accounts.id);
    CREATE TRIGGER usage_after_insert AFTER INSERT ON mailbox_messages BEGIN
        UPDATE accounts SET used_bytes = used_bytes + COALESCE((SELECT size FROM messages WHERE id = NEW.message_id), 0)
        WHERE id = (SELECT account_id FROM mailboxes WHERE id = NEW.mailbox_id);
    END;
    CREATE TRIGGER usage_after_delete AFTER DELETE ON mailbox_messages BEGIN
        UPDATE accounts SET used_bytes = used_bytes - COALESCE((SELECT size FROM messages WHERE id = OLD.message_id), 0)
        WHERE id = (SELECT account_id FROM mailboxes WHERE id = OLD.mailbox_id);
    END;
    -- A folder's messages go before the folder, while it still names its account.
    CREATE TRIGGER usage_before_folder_delete BEFORE DELETE ON mailboxes BEGIN
        DELETE FROM mailbox_messages WHERE mailbox_id = OLD.id;
    END;",
];

/// Brings the database up to the newest schema version.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(Error::TooNew { found, known });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as i64 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "database schema migrated");
    }
    Ok(())
}

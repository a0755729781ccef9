//! Settings and IP rules as they are right now.
//!
//! The engine reads its [`Config`] and [`IpRules`] from here at the moment it
//! needs them (each new connection, each queue scan), so a change made
//! through the admin API or by `mailroomd settings set` in another process
//! applies without a restart: the API refreshes at once after a change, and
//! the server refreshes every [`REFRESH_EVERY`] in case the CLI changed the
//! database. A few settings are only read when the server starts
//! ([`RESTART_SETTINGS`]); [`Live::restart_needed`] names those changed since.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use mailroom_store::{IpRangeRow, Store};

use crate::config::{self, Config};
use crate::ip_filter::IpRules;

/// How often the server looks for changes made outside the admin API.
pub const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// Settings that take effect only when the server starts: they size pools
/// and resolvers created once, or name the certificate.
pub const RESTART_SETTINGS: &[&str] = &[
    "hostname",
    "max_connections",
    "max_connections_per_ip",
    "auth_fail_window_secs",
    "auth_fail_block_after",
    "dns_servers",
    "remote_smtp_port",
    "tls_ca_file",
    "max_outbound_connections",
    "max_connections_per_domain",
    "max_connections_per_protocol",
    "ipv6_client_prefix",
    "auth_suspect_lane",
];

/// Whether a change of `key` waits for a restart.
pub fn needs_restart(key: &str) -> bool {
    RESTART_SETTINGS.contains(&key)
}

#[derive(Default, PartialEq)]
struct Seen {
    settings: Vec<(String, String)>,
    ranges: Vec<IpRangeRow>,
}

/// The current settings and IP rules, shared by every part of the server.
pub struct Live {
    config: RwLock<Arc<Config>>,
    rules: RwLock<Arc<IpRules>>,
    seen: Mutex<Seen>,
    /// Values of [`RESTART_SETTINGS`] when the server started.
    at_start: Vec<(&'static str, String)>,
}

impl Live {
    /// Loads everything from the store.
    pub fn load(store: &Store) -> Result<Self, mailroom_store::Error> {
        let seen = Seen { settings: store.settings()?, ranges: store.ip_ranges()? };
        let at_start = RESTART_SETTINGS
            .iter()
            .map(|k| Ok((*k, config::value(store, k)?)))
            .collect::<Result<Vec<_>, mailroom_store::Error>>()?;
        Ok(Self {
            config: RwLock::new(Arc::new(Config::load(store)?)),
            rules: RwLock::new(Arc::new(IpRules::from_rows(&seen.ranges))),
            seen: Mutex::new(seen),
            at_start,
        })
    }

    /// The settings in effect.
    pub fn config(&self) -> Arc<Config> {
        self.config.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The IP rules in effect.
    pub fn ip_rules(&self) -> Arc<IpRules> {
        self.rules.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads settings and IP ranges again if the stored ones changed.
    /// Returns whether anything did.
    pub fn refresh(&self, store: &Store) -> Result<bool, mailroom_store::Error> {
        // Read under the lock, so an older read can never replace a newer one.
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let now = Seen { settings: store.settings()?, ranges: store.ip_ranges()? };
        if *seen == now {
            return Ok(false);
        }
        if seen.settings != now.settings {
            let changed: Vec<&str> = now
                .settings
                .iter()
                .filter(|kv| !seen.settings.contains(kv))
                .map(|(k, _)| k.as_str())
                .chain(
                    seen.settings
                        .iter()
                        .filter(|(k, _)| !now.settings.iter().any(|(n, _)| n == k))
                        .map(|(k, _)| k.as_str()),
                )
                .collect();
            let config = Config::load(store)?;
            *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
            tracing::info!(settings = %changed.join(","), change = "settings", "settings applied");
        }
        if seen.ranges != now.ranges {
            *self.rules.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(IpRules::from_rows(&now.ranges));
            tracing::info!(ranges = now.ranges.len(), change = "ip_filter", "IP filter applied");
        }
        *seen = now;
        Ok(true)
    }

    /// Settings changed since the server started that wait for a restart.
    pub fn restart_needed(&self, store: &Store) -> Result<Vec<&'static str>, mailroom_store::Error> {
        let mut out = Vec::new();
        for (key, old) in &self.at_start {
            if config::value(store, key)? != *old {
                out.push(*key);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_apply_on_refresh_and_restart_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let live = Live::load(&store).unwrap();
        assert!(!live.refresh(&store).unwrap());
        let before = live.config();
        config::set(&store, "max_recipients", "7").unwrap();
        config::set(&store, "max_connections", "77").unwrap();
        assert!(live.refresh(&store).unwrap());
        assert_eq!(live.config().max_recipients, 7);
        // An Arc taken before keeps its values.
        assert_ne!(before.max_recipients, 7);
        assert_eq!(live.restart_needed(&store).unwrap(), vec!["max_connections"]);

        let ip: std::net::IpAddr = "192.168.1.1".parse().unwrap();
        assert!(live.ip_rules().check(ip, "smtp").allowed);
        store
            .add_ip_range(&IpRangeRow {
                id: 0,
                network: "192.168.1.0/24".into(),
                protocols: "smtp".into(),
                action: "deny".into(),
                relay: false,
                priority: 1,
                note: String::new(),
            })
            .unwrap();
        assert!(live.refresh(&store).unwrap());
        assert!(!live.ip_rules().check(ip, "smtp").allowed);
        assert!(live.ip_rules().check(ip, "imap").allowed);
    }
}

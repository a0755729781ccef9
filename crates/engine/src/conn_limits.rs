//! Connection slots: how many client connections may be open in total, per
//! protocol group and per client.
//!
//! The total pool is shared by every mail listener, but no protocol group
//! (SMTP on port 25, submission, IMAP, POP3) may hold more than its share,
//! so a flood of idle connections on one port (say 993) leaves slots for
//! the others: port 25 keeps answering. Clients are counted by
//! [`client_key`], so every IPv6 address of one /64 (by default) counts as
//! the same client.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use mailroom_transport::{DEFAULT_IPV6_PREFIX, client_key};

/// Which limit turned a connection away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot of the server is taken.
    Total,
    /// The protocol group holds its whole share.
    Protocol,
    /// The client has as many connections as it may.
    Client,
}

impl Refusal {
    /// The name used in log events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Total => "total",
            Self::Protocol => "protocol",
            Self::Client => "client",
        }
    }
}

#[derive(Default)]
struct Open {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
    per_group: HashMap<&'static str, usize>,
}

/// Counts open connections, in total, per protocol group and per client.
pub struct ConnLimits {
    max_total: usize,
    max_per_ip: usize,
    max_per_group: usize,
    ipv6_prefix: u8,
    open: Mutex<Open>,
}

/// Releases a connection slot on drop.
pub struct ConnSlot {
    limits: Arc<ConnLimits>,
    client: IpAddr,
    group: Option<&'static str>,
}

impl ConnLimits {
    /// `max_total` connections, `max_per_ip` per client (IPv6 per /64), no
    /// share per protocol group.
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Self::with_shares(max_total, max_per_ip, max_total, DEFAULT_IPV6_PREFIX)
    }

    /// Limits with a share per protocol group and the IPv6 prefix that
    /// makes one client.
    pub fn with_shares(max_total: usize, max_per_ip: usize, max_per_group: usize, ipv6_prefix: u8) -> Arc<Self> {
        Arc::new(Self { max_total, max_per_ip, max_per_group, ipv6_prefix, open: Mutex::new(Open::default()) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    /// Connections a protocol group holds now.
    pub fn open_in(&self, group: &str) -> usize {
        self.lock().per_group.get(group).copied().unwrap_or(0)
    }

    /// A slot for a new connection from `ip`, if the total and per-client
    /// limits allow it.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<ConnSlot> {
        self.take(ip, None).ok()
    }

    /// A slot for a new connection from `ip` to a listener of `group`, or
    /// the limit that refuses it.
    pub fn acquire_in(self: &Arc<Self>, ip: IpAddr, group: &'static str) -> Result<ConnSlot, Refusal> {
        self.take(ip, Some(group))
    }

    fn take(self: &Arc<Self>, ip: IpAddr, group: Option<&'static str>) -> Result<ConnSlot, Refusal> {
        let client = client_key(ip, self.ipv6_prefix);
        let mut g = self.lock();
        if g.total >= self.max_total {
            return Err(Refusal::Total);
        }
        if let Some(group) = group
            && g.per_group.get(group).copied().unwrap_or(0) >= self.max_per_group
        {
            return Err(Refusal::Protocol);
        }
        if g.per_client.get(&client).copied().unwrap_or(0) >= self.max_per_ip {
            return Err(Refusal::Client);
        }
        g.total += 1;
        *g.per_client.entry(client).or_insert(0) += 1;
        if let Some(group) = group {
            *g.per_group.entry(group).or_insert(0) += 1;
        }
        Ok(ConnSlot { limits: self.clone(), client, group })
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut g = self.limits.lock();
        g.total = g.total.saturating_sub(1);
        if let Some(n) = g.per_client.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                g.per_client.remove(&self.client);
            }
        }
        if let Some(group) = self.group
            && let Some(n) = g.per_group.get_mut(group)
        {
            *n = n.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_flooded_group_leaves_slots_for_the_others() {
        let limits = ConnLimits::with_shares(10, 100, 4, 64);
        let flood: Vec<_> = (0..4).map(|_| limits.acquire_in(ip("192.0.2.1"), "imap").unwrap()).collect();
        assert_eq!(limits.acquire_in(ip("192.0.2.1"), "imap").err(), Some(Refusal::Protocol));
        assert!(limits.acquire_in(ip("192.0.2.1"), "smtp").is_ok());
        assert_eq!(limits.open_in("imap"), 4);
        drop(flood);
        assert_eq!(limits.open_in("imap"), 0);
        assert_eq!(limits.open(), 0);
    }

    #[test]
    fn the_total_still_bounds_everything() {
        let limits = ConnLimits::with_shares(3, 100, 2, 64);
        let _a = limits.acquire_in(ip("192.0.2.1"), "imap").unwrap();
        let _b = limits.acquire_in(ip("192.0.2.1"), "pop3").unwrap();
        let _c = limits.acquire_in(ip("192.0.2.1"), "smtp").unwrap();
        assert_eq!(limits.acquire_in(ip("192.0.2.1"), "submission").err(), Some(Refusal::Total));
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_the_per_client_limit() {
        let limits = ConnLimits::with_shares(100, 2, 100, 64);
        let _a = limits.acquire_in(ip("2001:db8:0:1::a"), "smtp").unwrap();
        let _b = limits.acquire_in(ip("2001:db8:0:1::b"), "smtp").unwrap();
        assert_eq!(limits.acquire_in(ip("2001:db8:0:1::c"), "smtp").err(), Some(Refusal::Client));
        assert!(limits.acquire_in(ip("2001:db8:0:2::a"), "smtp").is_ok());
        // With /128, every address is its own client.
        let exact = ConnLimits::with_shares(100, 1, 100, 128);
        let _x = exact.acquire(ip("2001:db8::1")).unwrap();
        assert!(exact.acquire(ip("2001:db8::2")).is_some());
        assert!(exact.acquire(ip("2001:db8::1")).is_none());
    }
}

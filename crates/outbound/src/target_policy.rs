//! Which MX addresses mail may be sent to, and how many are tried.
//!
//! DNS is written by whoever owns the recipient domain, so an MX (or the
//! implicit MX's A/AAAA record) may point anywhere: at loopback (our own
//! listeners, which would take the mail back), at the office LAN, at a
//! link-local or multicast address. Such addresses are refused one by one,
//! so a host with one public and one private address is reached at the
//! public one, unless the admin lists the network in
//! `outbound_allowed_internal_networks`. Relays configured by the admin are
//! not subject to this: the admin chose them.
//!
//! The number of MX hosts looked up and tried per message, and of addresses
//! tried per host, is bounded too, so a domain with a thousand MX records
//! costs no more than a handful of connection attempts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use mailroom_transport::NetSet;

use crate::route::MxHost;

/// Limits on the MX targets of a delivery.
#[derive(Debug, Clone)]
pub struct TargetPolicy {
    /// Internal networks that may nevertheless be delivered to (test labs,
    /// an MX on the LAN the admin knows about).
    pub allowed_internal: NetSet,
    /// Most MX hosts looked up and tried per delivery.
    pub max_hosts: usize,
    /// Most addresses tried per MX host.
    pub max_addrs_per_host: usize,
}

impl Default for TargetPolicy {
    fn default() -> Self {
        Self { allowed_internal: NetSet::default(), max_hosts: 5, max_addrs_per_host: 2 }
    }
}

/// What kind of internal address `ip` is, in words; `None` for a public one.
pub fn internal_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_kind(v4),
            None => v6_kind(v6),
        },
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("an unspecified (\"this network\") address")
    } else if ip.is_loopback() {
        Some("a loopback address (this computer)")
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some("a private network address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        Some("a multicast, broadcast or reserved address")
    } else {
        None
    }
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        Some("an unspecified address")
    } else if ip.is_loopback() {
        Some("a loopback address (this computer)")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a private network address (unique local)")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else {
        None
    }
}

/// The (host, address) pairs to try, in order.
pub type Targets = Vec<(String, IpAddr)>;

impl TargetPolicy {
    /// Why `ip` may not be delivered to, or `None` when it may.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        let kind = internal_kind(ip)?;
        if self.allowed_internal.contains(ip) { None } else { Some(kind) }
    }

    /// The addresses of `hosts` to try, in order: internal ones dropped, at
    /// most `max_hosts` hosts and `max_addrs_per_host` addresses each. When
    /// nothing is left, a sentence saying why (for the queue and a bounce).
    pub fn apply(&self, domain: &str, hosts: Vec<MxHost>) -> Result<Targets, String> {
        let mut targets = Vec::new();
        let mut first_refused: Option<(String, IpAddr, &'static str)> = None;
        for host in hosts.into_iter().take(self.max_hosts.max(1)) {
            let mut taken = 0;
            for ip in host.addrs {
                if taken >= self.max_addrs_per_host.max(1) {
                    break;
                }
                match self.refusal(ip) {
                    None => {
                        targets.push((host.name.clone(), ip));
                        taken += 1;
                    }
                    Some(kind) => {
                        tracing::warn!(domain, host = %host.name, addr = %ip, reason = kind, limit = "internal_target", "mail host address refused");
                        if first_refused.is_none() {
                            first_refused = Some((host.name.clone(), ip, kind));
                        }
                    }
                }
            }
        }
        if !targets.is_empty() {
            return Ok(targets);
        }
        Err(match first_refused {
            Some((host, ip, kind)) => format!(
                "the receiving server's address {ip} ({host}, a mail host of {domain}) is {kind}; mail is not \
                 sent to internal addresses unless the setting outbound_allowed_internal_networks includes them"
            ),
            None => format!("no mail host of {domain} has a usable address"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, addrs: &[&str]) -> MxHost {
        MxHost { name: name.into(), preference: 10, addrs: addrs.iter().map(|a| a.parse().unwrap()).collect() }
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "127.9.9.9",
            "10.0.0.5",
            "172.16.1.1",
            "192.168.0.1",
            "100.64.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
        ] {
            assert!(internal_kind(ip.parse().unwrap()).is_some(), "{ip} taken for public");
        }
        for ip in ["8.8.8.8", "192.0.2.10", "172.32.0.1", "2001:db8::1", "2a00:1450::1", "::ffff:8.8.8.8"] {
            assert_eq!(internal_kind(ip.parse().unwrap()), None, "{ip} taken for internal");
        }
    }

    #[test]
    fn a_host_with_public_and_private_addresses_gets_the_public_one() {
        let p = TargetPolicy::default();
        let got = p.apply("d.test", vec![host("mx.d.test", &["10.0.0.5", "192.0.2.7"])]).unwrap();
        assert_eq!(got, vec![("mx.d.test".to_string(), "192.0.2.7".parse().unwrap())]);
    }

    #[test]
    fn only_internal_targets_give_a_plain_sentence() {
        let p = TargetPolicy::default();
        let why = p.apply("d.test", vec![host("mx.d.test", &["10.0.0.5"]), host("mx2.d.test", &["::1"])]).unwrap_err();
        assert!(why.starts_with("the receiving server's address 10.0.0.5 (mx.d.test"), "{why}");
        assert!(why.contains("private network address"), "{why}");
        assert!(why.contains("outbound_allowed_internal_networks"), "{why}");
    }

    #[test]
    fn allowed_networks_are_delivered_to() {
        let p = TargetPolicy { allowed_internal: NetSet::parse("127.0.0.0/8").unwrap(), ..TargetPolicy::default() };
        let got = p.apply("d.test", vec![host("mx.d.test", &["127.0.0.3", "10.0.0.1"])]).unwrap();
        assert_eq!(got, vec![("mx.d.test".to_string(), "127.0.0.3".parse().unwrap())]);
    }

    #[test]
    fn hosts_and_addresses_are_bounded() {
        let p = TargetPolicy { max_hosts: 3, max_addrs_per_host: 2, ..TargetPolicy::default() };
        let hosts: Vec<MxHost> = (0..50)
            .map(|i| host(&format!("mx{i}.d.test"), &["192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1"]))
            .collect();
        let got = p.apply("d.test", hosts).unwrap();
        assert_eq!(got.len(), 6);
        assert_eq!(got.last().unwrap().0, "mx2.d.test");
    }
}

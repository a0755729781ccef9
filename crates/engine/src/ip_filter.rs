//! The IP filter: when a client connects, whether its address may use that
//! protocol, and whether it may relay mail without logging in.
//!
//! Rules come from the store's IP ranges. They are looked at in priority
//! order (lower first; equal priorities: the narrower network first), and
//! the first rule whose network holds the address and whose protocols
//! include the listener's decides. An address no rule matches may connect
//! but not relay. IPv4-mapped IPv6 addresses are matched as IPv4.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use mailroom_store::IpRangeRow;

/// Protocol names a rule may list; a listener belongs to one of them.
pub const PROTOCOLS: &[&str] = &["smtp", "submission", "pop3", "imap", "admin"];

/// The protocol an IP rule calls a listener (`submissions` is `submission`,
/// `imaps` is `imap`, and so on).
pub fn protocol_of(listener: &str) -> &'static str {
    match listener {
        "submission" | "submissions" => "submission",
        "pop3" | "pop3s" => "pop3",
        "imap" | "imaps" => "imap",
        "admin" | "admin_remote" => "admin",
        _ => "smtp",
    }
}

/// One parsed rule.
#[derive(Debug, Clone)]
struct Rule {
    id: i64,
    net: IpNet,
    /// `None`: every protocol.
    protocols: Option<Vec<&'static str>>,
    allow: bool,
    relay: bool,
}

/// What the filter says about a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// It may connect.
    pub allowed: bool,
    /// It may relay without logging in.
    pub relay: bool,
    /// The rule that decided, if one matched.
    pub rule: Option<i64>,
}

/// Every rule, ready to match.
#[derive(Debug, Clone, Default)]
pub struct IpRules(Vec<Rule>);

impl IpRules {
    /// Rules from the store's rows (in the store's priority order). A row
    /// that does not parse (edited by hand) is skipped with a warning.
    pub fn from_rows(rows: &[IpRangeRow]) -> Self {
        let mut rules: Vec<(i64, Rule)> = Vec::new();
        for row in rows {
            match validate(row) {
                Ok(valid) => {
                    let Ok(net) = IpNet::from_str(&valid.network) else { continue };
                    let protocols = parse_protocols(&valid.protocols).ok().flatten();
                    rules.push((
                        row.priority,
                        Rule { id: row.id, net, protocols, allow: valid.action == "allow", relay: valid.relay },
                    ));
                }
                Err(e) => tracing::warn!(rule = row.id, error = %e, "invalid IP range skipped"),
            }
        }
        // Stable: equal priority and prefix keep the store's (id) order.
        rules.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.net.prefix_len().cmp(&a.1.net.prefix_len())));
        Self(rules.into_iter().map(|(_, r)| r).collect())
    }

    /// The verdict for `ip` connecting to a listener of `protocol`.
    pub fn check(&self, ip: IpAddr, protocol: &str) -> Verdict {
        let ip = ip.to_canonical();
        let hit =
            self.0.iter().find(|r| r.net.contains(&ip) && r.protocols.as_ref().is_none_or(|p| p.contains(&protocol)));
        match hit {
            Some(r) => Verdict { allowed: r.allow, relay: r.allow && r.relay, rule: Some(r.id) },
            None => Verdict { allowed: true, relay: false, rule: None },
        }
    }
}

/// Parses `all` (or empty) as `None`, else a comma-separated list of
/// [`PROTOCOLS`].
fn parse_protocols(text: &str) -> Result<Option<Vec<&'static str>>, String> {
    let t = text.trim().to_ascii_lowercase();
    if t.is_empty() || t == "all" {
        return Ok(None);
    }
    let mut out = Vec::new();
    for part in t.split(|c: char| c == ',' || c.is_whitespace()).filter(|p| !p.is_empty()) {
        let Some(known) = PROTOCOLS.iter().find(|p| **p == part) else {
            return Err(format!("\"{part}\" is not a protocol; use all or some of: {}", PROTOCOLS.join(", ")));
        };
        if !out.contains(known) {
            out.push(*known);
        }
    }
    Ok(Some(out))
}

/// Checks a rule as an admin typed it and returns it in normal form
/// (network truncated to its prefix, protocols in lower case, action in
/// lower case); the error says what is expected.
pub fn validate(row: &IpRangeRow) -> Result<IpRangeRow, String> {
    let text = row.network.trim();
    let net = match IpNet::from_str(text) {
        // An IPv4-mapped IPv6 network is the IPv4 network (clients are matched as IPv4).
        Ok(IpNet::V6(n)) if n.prefix_len() >= 96 && n.addr().to_ipv4_mapped().is_some() => {
            match (n.addr().to_ipv4_mapped(), n.prefix_len().checked_sub(96)) {
                (Some(v4), Some(len)) => ipnet::Ipv4Net::new(v4, len).map(IpNet::V4).unwrap_or(IpNet::V6(n)).trunc(),
                _ => IpNet::V6(n).trunc(),
            }
        }
        Ok(n) => n.trunc(),
        Err(_) => match IpAddr::from_str(text) {
            Ok(ip) => IpNet::from(ip),
            Err(_) => {
                return Err(format!(
                    "\"{text}\" is not a network; write it like 192.168.1.0/24, 2001:db8::/32 or one address such as 10.0.0.5"
                ));
            }
        },
    };
    let protocols = match parse_protocols(&row.protocols)? {
        None => "all".to_string(),
        Some(list) => list.join(","),
    };
    let action = row.action.trim().to_ascii_lowercase();
    if action != "allow" && action != "deny" {
        return Err(format!("action must be \"allow\" or \"deny\", not \"{}\"", row.action));
    }
    if !(0..=1_000_000).contains(&row.priority) {
        return Err("priority must be from 0 to 1000000 (lower numbers are looked at first)".into());
    }
    if row.relay && action == "deny" {
        return Err("a range that is denied cannot be trusted to relay".into());
    }
    if row.note.chars().count() > 200 {
        return Err("the note is longer than 200 characters".into());
    }
    Ok(IpRangeRow {
        id: row.id,
        network: net.to_string(),
        protocols,
        action,
        relay: row.relay,
        priority: row.priority,
        note: row.note.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, network: &str, protocols: &str, action: &str, relay: bool, priority: i64) -> IpRangeRow {
        IpRangeRow {
            id,
            network: network.into(),
            protocols: protocols.into(),
            action: action.into(),
            relay,
            priority,
            note: String::new(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn first_matching_rule_by_priority_decides() {
        let rules = IpRules::from_rows(&[
            row(1, "127.0.0.0/8", "all", "allow", true, 10),
            row(2, "192.168.0.0/16", "all", "allow", false, 20),
            row(3, "192.168.5.0/24", "pop3,imap", "deny", false, 20),
            row(4, "0.0.0.0/0", "all", "allow", false, 1000),
            row(5, "203.0.113.7", "all", "deny", false, 1),
        ]);
        assert_eq!(rules.check(ip("127.0.0.1"), "smtp"), Verdict { allowed: true, relay: true, rule: Some(1) });
        // Mapped IPv6 is IPv4.
        assert!(rules.check(ip("::ffff:127.0.0.1"), "smtp").relay);
        assert!(!rules.check(ip("192.168.1.1"), "smtp").relay);
        // Same priority: the narrower network first, and only for its protocols.
        assert!(!rules.check(ip("192.168.5.9"), "imap").allowed);
        assert_eq!(rules.check(ip("192.168.5.9"), "smtp").rule, Some(2));
        assert_eq!(rules.check(ip("203.0.113.7"), "smtp"), Verdict { allowed: false, relay: false, rule: Some(5) });
        assert_eq!(rules.check(ip("203.0.113.8"), "smtp").rule, Some(4));
        // Nothing matches IPv6 here: allowed, not trusted.
        assert_eq!(rules.check(ip("2001:db8::1"), "smtp"), Verdict { allowed: true, relay: false, rule: None });
    }

    #[test]
    fn validation_normalises_and_explains() {
        let v = validate(&row(0, " 10.1.2.3/8 ", "IMAP, pop3,imap", "Deny", false, 5)).unwrap();
        assert_eq!((v.network.as_str(), v.protocols.as_str(), v.action.as_str()), ("10.0.0.0/8", "imap,pop3", "deny"));
        assert_eq!(validate(&row(0, "10.0.0.5", "", "allow", true, 5)).unwrap().network, "10.0.0.5/32");
        // Mapped IPv6 is written as the IPv4 network it means, so it matches.
        let mapped = validate(&row(0, "::ffff:203.0.113.0/120", "all", "deny", false, 5)).unwrap();
        assert_eq!(mapped.network, "203.0.113.0/24");
        let rules = IpRules::from_rows(&[IpRangeRow { id: 1, ..mapped }]);
        assert!(!rules.check(ip("::ffff:203.0.113.9"), "smtp").allowed);
        assert!(!rules.check(ip("203.0.113.9"), "smtp").allowed);
        assert!(validate(&row(0, "office", "all", "allow", false, 5)).unwrap_err().contains("192.168.1.0/24"));
        assert!(validate(&row(0, "10.0.0.0/8", "ftp", "allow", false, 5)).unwrap_err().contains("not a protocol"));
        assert!(validate(&row(0, "10.0.0.0/8", "all", "maybe", false, 5)).unwrap_err().contains("allow"));
        assert!(validate(&row(0, "10.0.0.0/8", "all", "deny", true, 5)).unwrap_err().contains("relay"));
        assert!(validate(&row(0, "10.0.0.0/8", "all", "allow", false, -1)).is_err());
    }

    #[test]
    fn listener_protocols() {
        assert_eq!(protocol_of("submissions"), "submission");
        assert_eq!(protocol_of("imaps"), "imap");
        assert_eq!(protocol_of("pop3s"), "pop3");
        assert_eq!(protocol_of("smtp"), "smtp");
    }
}

//! Sets of IP networks, such as the trusted networks allowed to relay.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

/// A list of CIDR ranges. IPv4-mapped IPv6 peers are matched as IPv4.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetSet(Vec<IpNet>);

impl NetSet {
    /// Parses a comma- or whitespace-separated list such as
    /// `127.0.0.0/8, ::1/128, 192.168.1.10` (a bare address means one host).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for part in text.split(|c: char| c == ',' || c.is_whitespace()).filter(|p| !p.is_empty()) {
            let net = match IpNet::from_str(part) {
                Ok(n) => n,
                Err(_) => match IpAddr::from_str(part) {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => {
                        return Err(format!("\"{part}\" is not a network; write it like 192.168.1.0/24 or 10.0.0.5"));
                    }
                },
            };
            nets.push(net.trunc());
        }
        Ok(Self(nets))
    }

    /// Whether `ip` falls in any of the ranges.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for NetSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|n| n.to_string()).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_hosts() {
        let set = NetSet::parse("127.0.0.0/8, ::1/128 10.1.2.3").expect("parses");
        assert!(set.contains("127.4.5.6".parse().expect("ip")));
        assert!(set.contains("::1".parse().expect("ip")));
        assert!(set.contains("::ffff:127.0.0.1".parse().expect("ip")));
        assert!(set.contains("10.1.2.3".parse().expect("ip")));
        assert!(!set.contains("10.1.2.4".parse().expect("ip")));
        assert!(!set.contains("192.168.0.1".parse().expect("ip")));
    }

    #[test]
    fn rejects_garbage_with_a_plain_message() {
        let err = NetSet::parse("10.0.0.0/8, lan").expect_err("must fail");
        assert!(err.contains("\"lan\""), "{err}");
    }
}

//! Which "client" an address belongs to, for per-client limits.
//!
//! An IPv4 address is one client. An IPv6 host usually owns a whole /64 (and
//! can pick any address in it), so counting each IPv6 address separately
//! would let one machine look like millions of clients. Per-client limits
//! (connections, failed logins) therefore key IPv6 addresses by their first
//! `prefix` bits. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) count as the
//! IPv4 address they carry.

use std::net::{IpAddr, Ipv6Addr};

/// The default IPv6 prefix length one client is assumed to own.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;

/// Shortest prefix accepted: wider keys would lump unrelated sites together.
pub const MIN_IPV6_PREFIX: u8 = 48;

/// The key under which `ip` is counted: IPv4 as is, IPv6 cut to its first
/// `prefix` bits (clamped to 48..=128).
pub fn client_key(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let prefix = u32::from(prefix.clamp(MIN_IPV6_PREFIX, 128));
            let mask = if prefix == 128 { u128::MAX } else { !(u128::MAX >> prefix) };
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
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
    fn ipv6_addresses_of_one_64_are_one_client() {
        let a = client_key(ip("2001:db8:1:2:aaaa::1"), 64);
        let b = client_key(ip("2001:db8:1:2:ffff:1:2:3"), 64);
        assert_eq!(a, b);
        assert_eq!(a, ip("2001:db8:1:2::"));
        assert_ne!(a, client_key(ip("2001:db8:1:3::1"), 64));
    }

    #[test]
    fn prefix_length_is_honoured_and_clamped() {
        assert_eq!(client_key(ip("2001:db8:1:2::1"), 48), ip("2001:db8:1::"));
        assert_eq!(client_key(ip("2001:db8:1:2::1"), 128), ip("2001:db8:1:2::1"));
        assert_eq!(client_key(ip("2001:db8:1:2::1"), 56), ip("2001:db8:1::"));
        assert_eq!(client_key(ip("2001:db8:1:2ff::1"), 56), ip("2001:db8:1:200::"));
        // Below 48 would merge whole providers: treated as 48.
        assert_eq!(client_key(ip("2001:db8:1:2::1"), 0), ip("2001:db8:1::"));
    }

    #[test]
    fn ipv4_and_mapped_ipv4_are_unchanged() {
        assert_eq!(client_key(ip("192.0.2.7"), 64), ip("192.0.2.7"));
        assert_eq!(client_key(ip("::ffff:192.0.2.7"), 64), ip("192.0.2.7"));
        assert_ne!(client_key(ip("192.0.2.7"), 64), client_key(ip("192.0.2.8"), 64));
    }
}

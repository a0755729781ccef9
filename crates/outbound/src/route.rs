//! Where mail for a domain goes: MX lookup and host addresses.
//!
//! RFC 5321 §5.1: MX records in preference order (random among equal
//! preferences), each host's AAAA and A addresses; no MX at all means the
//! domain itself is the mail host (implicit MX). RFC 7505: a single MX of
//! `.` says the domain accepts no mail. The resolver is the system's or a
//! configured list of servers (UDP with TCP fallback).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use rand::seq::SliceRandom;

use crate::OutboundConfig;

/// One mail host of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    /// Host name, without the trailing dot.
    pub name: String,
    /// MX preference (0 for an implicit MX).
    pub preference: u16,
    /// Its addresses, IPv6 first.
    pub addrs: Vec<IpAddr>,
}

/// Why a domain cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// RFC 7505 null MX: the domain says it accepts no mail. Permanent.
    NullMx(String),
    /// The domain does not exist (NXDOMAIN). Permanent.
    NoSuchDomain(String),
    /// The domain exists but has neither MX nor address records. Permanent.
    NoMailHost(String),
    /// DNS trouble (timeout, SERVFAIL, no usable host address): try later.
    Temporary(String),
    /// The resolver could not be set up (no resolv.conf, bad settings).
    Config(String),
}

impl RouteError {
    /// Whether trying again later cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, RouteError::NullMx(_) | RouteError::NoSuchDomain(_) | RouteError::NoMailHost(_))
    }

    /// RFC 3463 status for a bounce caused by this error.
    pub fn status(&self) -> &'static str {
        match self {
            RouteError::NullMx(_) => "5.1.10",
            RouteError::NoSuchDomain(_) => "5.1.2",
            RouteError::NoMailHost(_) => "5.4.4",
            RouteError::Temporary(_) | RouteError::Config(_) => "4.4.3",
        }
    }
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::NullMx(d) => write!(f, "{d} does not accept mail (null MX)"),
            RouteError::NoSuchDomain(d) => write!(f, "the domain {d} does not exist"),
            RouteError::NoMailHost(d) => write!(f, "{d} has no mail server (no MX and no address records)"),
            RouteError::Temporary(why) => write!(f, "{why}"),
            RouteError::Config(why) => write!(f, "the DNS resolver could not be set up: {why}"),
        }
    }
}

impl std::error::Error for RouteError {}

/// MX and address lookups for outbound delivery.
#[derive(Clone)]
pub struct Router {
    resolver: TokioResolver,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router").finish_non_exhaustive()
    }
}

impl Router {
    /// A router that asks `cfg.dns_servers` (UDP, then TCP, on the given
    /// ports), or the system's resolvers when that list is empty.
    pub fn new(cfg: &OutboundConfig) -> Result<Router, RouteError> {
        Ok(Router { resolver: resolver(&cfg.dns_servers)? })
    }

    /// The mail hosts of `domain`, in the order to try them.
    pub async fn hosts(&self, domain: &str) -> Result<Vec<MxHost>, RouteError> {
        self.hosts_at_most(domain, usize::MAX).await
    }

    /// [`Router::hosts`], looking up the addresses of at most `max_hosts`
    /// MX hosts (the first by preference).
    pub async fn hosts_at_most(&self, domain: &str, max_hosts: usize) -> Result<Vec<MxHost>, RouteError> {
        let domain = domain.trim_end_matches('.');
        let name = fqdn(domain)?;
        tracing::debug!(domain, "looking up MX");
        let started = std::time::Instant::now();
        let mx_result = self.resolver.mx_lookup(name.clone()).await;
        tracing::debug!(
            domain,
            millis = started.elapsed().as_millis() as u64,
            ok = mx_result.is_ok(),
            "MX lookup done"
        );
        let mx = match mx_result {
            Ok(lookup) => lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(mx) => Some((mx.preference, mx.exchange.to_ascii())),
                    _ => None,
                })
                .collect(),
            Err(e) if e.is_nx_domain() => return Err(RouteError::NoSuchDomain(domain.to_string())),
            Err(e) if e.is_no_records_found() => Vec::new(),
            Err(e) => return Err(temporary(domain, "MX", &e)),
        };
        let Some(order) = order_mx(domain, mx)? else {
            // No MX: the domain itself is the mail host (RFC 5321 §5.1).
            let addrs = match self.addresses(&name).await {
                Ok(a) => a,
                Err(e) if e.is_nx_domain() => return Err(RouteError::NoSuchDomain(domain.to_string())),
                Err(e) => return Err(temporary(domain, "A/AAAA", &e)),
            };
            if addrs.is_empty() {
                return Err(RouteError::NoMailHost(domain.to_string()));
            }
            return Ok(vec![MxHost { name: domain.to_string(), preference: 0, addrs }]);
        };
        if order.len() > max_hosts {
            tracing::info!(
                domain,
                hosts = order.len(),
                tried = max_hosts,
                limit = "outbound_max_mx_hosts",
                "only the first mail hosts are tried"
            );
        }
        let mut hosts = Vec::with_capacity(order.len().min(max_hosts));
        let mut last_problem = None;
        for (preference, host) in order.into_iter().take(max_hosts.max(1)) {
            let addrs = match fqdn(&host) {
                Ok(n) => self.addresses(&n).await,
                Err(e) => {
                    last_problem = Some(e.to_string());
                    continue;
                }
            };
            match addrs {
                Ok(addrs) if !addrs.is_empty() => hosts.push(MxHost { name: host, preference, addrs }),
                Ok(_) => last_problem = Some(format!("the mail host {host} of {domain} has no address")),
                Err(e) => {
                    tracing::debug!(domain, host = %host, error = %e, "MX host address lookup failed");
                    last_problem = Some(format!("looking up the mail host {host} of {domain} failed: {e}"));
                }
            }
        }
        if hosts.is_empty() {
            let why = last_problem.unwrap_or_else(|| format!("no mail host of {domain} has an address"));
            return Err(RouteError::Temporary(why));
        }
        Ok(hosts)
    }

    /// The addresses of a relay host; an IP literal (optionally in
    /// brackets) is returned as is.
    pub async fn relay_addrs(&self, host: &str) -> Result<Vec<IpAddr>, RouteError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let bare = bare.strip_prefix("IPv6:").unwrap_or(bare);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let host = host.trim_end_matches('.');
        let name = fqdn(host)?;
        match self.addresses(&name).await {
            Ok(a) if !a.is_empty() => Ok(a),
            Ok(_) => Err(RouteError::Temporary(format!("the relay host {host} has no address"))),
            Err(e) if e.is_nx_domain() => {
                Err(RouteError::Temporary(format!("the relay host {host} does not exist in DNS")))
            }
            Err(e) => Err(temporary(host, "A/AAAA", &e)),
        }
    }

    /// AAAA then A addresses of one name. Empty when the name exists without
    /// addresses; an error only when both lookups failed.
    async fn addresses(&self, name: &Name) -> Result<Vec<IpAddr>, NetError> {
        let (v6, v4) = tokio::join!(
            self.resolver.lookup(name.clone(), RecordType::AAAA),
            self.resolver.lookup(name.clone(), RecordType::A)
        );
        let mut addrs = Vec::new();
        let mut err = None;
        for res in [v6, v4] {
            match res {
                Ok(lookup) => addrs.extend(lookup.answers().iter().filter_map(|r| match &r.data {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                    _ => None,
                })),
                Err(e) if e.is_no_records_found() && !e.is_nx_domain() => {}
                Err(e) => err = Some(e),
            }
        }
        match err {
            Some(e) if addrs.is_empty() => Err(e),
            _ => {
                let mut seen = std::collections::HashSet::new();
                addrs.retain(|a| seen.insert(*a));
                Ok(addrs)
            }
        }
    }
}

/// The resolver Mailroom uses for every DNS question: it asks `dns_servers`
/// (UDP, then TCP, on the given ports) and nothing else, not even
/// `/etc/hosts`; or the system's resolvers when that list is empty. Names are
/// taken as fully qualified (no search domains), each server gets two
/// attempts of 3 seconds.
pub fn resolver(dns_servers: &[SocketAddr]) -> Result<TokioResolver, RouteError> {
    let provider = TokioRuntimeProvider::default();
    let mut builder = if dns_servers.is_empty() {
        TokioResolver::builder(provider).map_err(|e| RouteError::Config(e.to_string()))?
    } else {
        let servers = dns_servers
            .iter()
            .map(|sa| {
                let mut udp = ConnectionConfig::udp();
                udp.port = sa.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = sa.port();
                NameServerConfig::new(sa.ip(), true, vec![udp, tcp])
            })
            .collect();
        let mut b = TokioResolver::builder_with_config(ResolverConfig::from_name_servers(servers), provider);
        // Configured servers are the whole truth: no /etc/hosts.
        b.options_mut().use_hosts_file = ResolveHosts::Never;
        b
    };
    let opts = builder.options_mut();
    opts.attempts = 2;
    opts.timeout = Duration::from_secs(3);
    opts.cache_size = 256;
    // Names are looked up fully qualified; never append search domains.
    opts.ndots = 0;
    builder.build().map_err(|e| RouteError::Config(e.to_string()))
}

/// A name parsed as fully qualified, so no search domain is ever appended.
fn fqdn(domain: &str) -> Result<Name, RouteError> {
    let mut name = Name::from_utf8(domain)
        .map_err(|e| RouteError::NoSuchDomain(format!("{domain} (not a valid domain name: {e})")))?;
    name.set_fqdn(true);
    Ok(name)
}

fn temporary(domain: &str, what: &str, e: &NetError) -> RouteError {
    RouteError::Temporary(format!("the DNS lookup ({what}) for {domain} failed: {e}"))
}

/// Puts MX records in the order to try them: by preference, shuffled among
/// equal preferences. `Ok(None)` when there are none (use the implicit MX);
/// [`RouteError::NullMx`] for a lone `.` exchange (RFC 7505). Exchanges are
/// returned without their trailing dot.
pub fn order_mx(domain: &str, records: Vec<(u16, String)>) -> Result<Option<Vec<(u16, String)>>, RouteError> {
    if records.is_empty() {
        return Ok(None);
    }
    let is_null = |name: &str| name.is_empty() || name == ".";
    if records.len() == 1 && is_null(&records[0].1) {
        return Err(RouteError::NullMx(domain.to_string()));
    }
    let mut records: Vec<(u16, String)> = records
        .into_iter()
        .filter(|(_, n)| !is_null(n))
        .map(|(p, n)| (p, n.trim_end_matches('.').to_ascii_lowercase()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    records.retain(|(_, n)| seen.insert(n.clone()));
    records.shuffle(&mut rand::thread_rng());
    // Stable: the shuffle survives among equal preferences.
    records.sort_by_key(|(p, _)| *p);
    Ok(Some(records))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs(list: &[(u16, &str)]) -> Vec<(u16, String)> {
        list.iter().map(|(p, n)| (*p, n.to_string())).collect()
    }

    #[test]
    fn sorted_by_preference() {
        let got = order_mx("example.com", recs(&[(20, "b.example.com."), (10, "A.example.com.")])).unwrap().unwrap();
        assert_eq!(got, recs(&[(10, "a.example.com"), (20, "b.example.com")]));
    }

    #[test]
    fn equal_preferences_are_shuffled() {
        let input = recs(&[(10, "a."), (10, "b."), (10, "c."), (10, "d."), (5, "first.")]);
        let mut firsts = std::collections::HashSet::new();
        for _ in 0..200 {
            let got = order_mx("example.com", input.clone()).unwrap().unwrap();
            assert_eq!(got[0].1, "first");
            assert_eq!(got.len(), 5);
            firsts.insert(got[1].1.clone());
        }
        assert!(firsts.len() > 1, "equal preferences never changed order");
    }

    #[test]
    fn null_mx() {
        assert_eq!(order_mx("example.com", recs(&[(0, ".")])), Err(RouteError::NullMx("example.com".into())));
        assert_eq!(RouteError::NullMx("example.com".into()).to_string(), "example.com does not accept mail (null MX)");
        // A "." among real hosts is ignored.
        let got = order_mx("example.com", recs(&[(0, "."), (10, "mx.example.com.")])).unwrap().unwrap();
        assert_eq!(got, recs(&[(10, "mx.example.com")]));
    }

    #[test]
    fn no_records_means_implicit_mx() {
        assert_eq!(order_mx("example.com", Vec::new()), Ok(None));
    }

    #[test]
    fn duplicates_removed() {
        let got = order_mx("e", recs(&[(10, "mx.e."), (20, "MX.e.")])).unwrap().unwrap();
        assert_eq!(got, recs(&[(10, "mx.e")]));
    }

    #[test]
    fn permanence_and_status() {
        assert!(RouteError::NullMx("d".into()).is_permanent());
        assert!(RouteError::NoSuchDomain("d".into()).is_permanent());
        assert!(!RouteError::Temporary("x".into()).is_permanent());
        assert_eq!(RouteError::NullMx("d".into()).status(), "5.1.10");
        assert_eq!(RouteError::NoSuchDomain("d".into()).status(), "5.1.2");
    }
}

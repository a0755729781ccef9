//! MX routing against a small DNS server on loopback: preference order,
//! implicit MX, null MX, missing domains, DNS failures, address order.

#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::net::IpAddr;

use mailroom_outbound::route::{RouteError, Router};
use support::dns::Zone;

async fn router(zone: Zone) -> Router {
    let dns = zone.serve().await;
    let mut cfg = support::config("mail.sender.test", 25);
    cfg.dns_servers = vec![dns];
    Router::new(&cfg).unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_in_preference_order_with_ipv6_first() {
    let r = router(
        Zone::default()
            .mx("example.test", 20, "backup.example.test")
            .mx("example.test", 10, "mx.example.test")
            .addr("mx.example.test", "192.0.2.1")
            .addr("mx.example.test", "2001:db8::1")
            .addr("backup.example.test", "192.0.2.2"),
    )
    .await;
    let hosts = r.hosts("example.test").await.unwrap();
    assert_eq!(hosts.len(), 2);
    assert_eq!(hosts[0].name, "mx.example.test");
    assert_eq!(hosts[0].preference, 10);
    assert_eq!(hosts[0].addrs, vec![ip("2001:db8::1"), ip("192.0.2.1")]);
    assert_eq!(hosts[1].name, "backup.example.test");
    assert_eq!(hosts[1].addrs, vec![ip("192.0.2.2")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_mx_means_the_domain_itself() {
    let r = router(Zone::default().addr("plain.test", "192.0.2.9")).await;
    let hosts = r.hosts("plain.test").await.unwrap();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].name, "plain.test");
    assert_eq!(hosts[0].addrs, vec![ip("192.0.2.9")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn null_mx_is_permanent() {
    let r = router(Zone::default().mx("nomail.test", 0, ".")).await;
    let err = r.hosts("nomail.test").await.unwrap_err();
    assert_eq!(err, RouteError::NullMx("nomail.test".into()));
    assert!(err.is_permanent());
    assert_eq!(err.to_string(), "nomail.test does not accept mail (null MX)");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_domain_is_permanent() {
    let r = router(Zone::default().addr("other.test", "192.0.2.1")).await;
    let err = r.hosts("missing.test").await.unwrap_err();
    assert_eq!(err, RouteError::NoSuchDomain("missing.test".into()));
    assert_eq!(err.to_string(), "the domain missing.test does not exist");
}

#[tokio::test(flavor = "multi_thread")]
async fn servfail_is_temporary() {
    let r = router(Zone::default().servfail("broken.test")).await;
    let err = r.hosts("broken.test").await.unwrap_err();
    assert!(matches!(err, RouteError::Temporary(_)), "{err:?}");
    assert!(!err.is_permanent());
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_without_addresses_are_skipped() {
    let r = router(
        Zone::default()
            .mx("example.test", 10, "gone.example.test")
            .mx("example.test", 20, "mx.example.test")
            .addr("mx.example.test", "192.0.2.3"),
    )
    .await;
    let hosts = r.hosts("example.test").await.unwrap();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].name, "mx.example.test");

    let r = router(Zone::default().mx("example.test", 10, "gone.example.test")).await;
    assert!(matches!(r.hosts("example.test").await, Err(RouteError::Temporary(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn relay_addresses() {
    let r = router(Zone::default().addr("relay.test", "192.0.2.5")).await;
    assert_eq!(r.relay_addrs("relay.test").await.unwrap(), vec![ip("192.0.2.5")]);
    assert_eq!(r.relay_addrs("192.0.2.77").await.unwrap(), vec![ip("192.0.2.77")]);
    assert_eq!(r.relay_addrs("[2001:db8::5]").await.unwrap(), vec![ip("2001:db8::5")]);
    assert!(r.relay_addrs("nowhere.test").await.is_err());
}

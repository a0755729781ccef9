//! Test peers for the outbound tests: a scripted SMTP server and a tiny
//! authoritative DNS server, both on loopback. Not shipped.

#![allow(dead_code, clippy::unwrap_used)]

pub mod dns;
pub mod smtp_peer;

use std::time::Duration;

use mailroom_outbound::OutboundConfig;

/// Settings with short timeouts; `port` is where MX hosts listen.
pub fn config(hostname: &str, port: u16) -> OutboundConfig {
    OutboundConfig {
        hostname: hostname.to_string(),
        remote_port: port,
        dns_servers: Vec::new(),
        extra_roots: Vec::new(),
        connect_timeout: Duration::from_secs(3),
        command_timeout: Duration::from_secs(5),
        data_timeout: Duration::from_secs(5),
        // The test peers listen on loopback.
        targets: mailroom_outbound::target_policy::TargetPolicy {
            allowed_internal: mailroom_transport::NetSet::parse("127.0.0.0/8,::1").unwrap(),
            ..Default::default()
        },
    }
}

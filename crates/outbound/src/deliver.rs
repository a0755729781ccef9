//! Delivery of a batch of messages to one destination: find its hosts, try
//! them in order over one connection per attempt, and collect a final or
//! deferred outcome for every recipient.
//!
//! A recipient moves on to the next host (or address) only when its outcome
//! says something about the host rather than the recipient: no connection,
//! refused greeting, TLS the policy demands but could not get, a dropped
//! connection. The first host that answers for a recipient has the last word.

use std::net::{IpAddr, SocketAddr};

use crate::client::{Target, run_session_with};
use crate::route::Router;
use crate::{Destination, OnDelivered, OutboundConfig, OutboundMessage, RcptOutcome};

/// Delivers `messages` to `dest`. Returns one `Vec` per message with one
/// outcome per recipient, in the order given.
pub async fn deliver(
    router: &Router,
    cfg: &OutboundConfig,
    dest: &Destination,
    messages: &[OutboundMessage],
) -> Vec<Vec<RcptOutcome>> {
    deliver_with(router, cfg, dest, messages, &|_, _| {}).await
}

/// [`deliver`], reporting each delivered recipient through `on_delivered` the
/// moment the remote server accepts it.
pub async fn deliver_with(
    router: &Router,
    cfg: &OutboundConfig,
    dest: &Destination,
    messages: &[OutboundMessage],
    on_delivered: OnDelivered<'_>,
) -> Vec<Vec<RcptOutcome>> {
    let (label, targets) = match plan(router, cfg, dest).await {
        Ok(plan) => plan,
        Err(outcome) => {
            tracing::info!(
                destination = %destination_name(dest), outcome = ?outcome,
                recipients = messages.iter().map(|m| m.recipients.len()).sum::<usize>(),
                "delivery not attempted: routing failed"
            );
            return messages.iter().map(|m| vec![outcome.clone(); m.recipients.len()]).collect();
        }
    };
    let mut state = Batch::new(messages);
    for target in &targets {
        if !state.any_open() {
            break;
        }
        let (subset, index) = state.open_subset();
        let report = run_session_with(cfg, target, &subset, on_delivered).await;
        let counts = Counts::of(&report.outcomes);
        tracing::info!(
            destination = %label, host = %target.host, addr = %target.addr, tls = report.tls,
            delivered = counts.delivered, deferred = counts.deferred, failed = counts.failed,
            "delivery attempt"
        );
        state.absorb(&index, report.outcomes, report.retry_elsewhere);
    }
    state.finish(&label)
}

/// The destination's name for logs and reasons.
fn destination_name(dest: &Destination) -> String {
    match dest {
        Destination::Mx { domain, .. } => domain.clone(),
        Destination::Relay(r) => format!("relay {}:{}", r.host, r.port),
    }
}

/// Every (host, address) to try, in order, or the outcome for everyone when
/// routing fails.
async fn plan(router: &Router, cfg: &OutboundConfig, dest: &Destination) -> Result<(String, Vec<Target>), RcptOutcome> {
    let label = destination_name(dest);
    match dest {
        Destination::Mx { domain, tls } => {
            let hosts = router.hosts_at_most(domain, cfg.targets.max_hosts).await.map_err(|e| route_outcome(&e))?;
            // Internal addresses are dropped here; when nothing is left the
            // DNS of the domain must change (or the admin allow the network).
            let allowed =
                cfg.targets.apply(domain, hosts).map_err(|reason| RcptOutcome::Deferred { host: None, reason })?;
            let targets = allowed
                .into_iter()
                .map(|(host, ip)| Target {
                    host,
                    addr: SocketAddr::new(ip, cfg.remote_port),
                    domain: domain.clone(),
                    tls: *tls,
                    implicit_tls: false,
                    auth: None,
                })
                .collect();
            Ok((label, targets))
        }
        Destination::Relay(relay) => {
            let addrs: Vec<IpAddr> = router.relay_addrs(&relay.host).await.map_err(|e| route_outcome(&e))?;
            let targets = addrs
                .into_iter()
                .map(|ip| Target {
                    host: relay.host.clone(),
                    addr: SocketAddr::new(ip, relay.port),
                    domain: relay.host.clone(),
                    tls: relay.tls,
                    implicit_tls: relay.implicit_tls,
                    auth: relay.auth.clone(),
                })
                .collect();
            Ok((label, targets))
        }
    }
}

fn route_outcome(e: &crate::route::RouteError) -> RcptOutcome {
    if e.is_permanent() {
        RcptOutcome::Failed { host: None, status: e.status().to_string(), reason: e.to_string(), remote_reply: None }
    } else {
        RcptOutcome::Deferred { host: None, reason: e.to_string() }
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    delivered: usize,
    deferred: usize,
    failed: usize,
}

impl Counts {
    fn of(outcomes: &[Vec<RcptOutcome>]) -> Self {
        let mut c = Counts::default();
        for o in outcomes.iter().flatten() {
            match o {
                RcptOutcome::Delivered { .. } => c.delivered += 1,
                RcptOutcome::Deferred { .. } => c.deferred += 1,
                RcptOutcome::Failed { .. } => c.failed += 1,
            }
        }
        c
    }
}

/// Which recipients still need a host, and the best outcome so far.
struct Batch<'a> {
    messages: &'a [OutboundMessage],
    /// Per recipient: the latest outcome, and whether another host may
    /// still change it.
    slots: Vec<Vec<(Option<RcptOutcome>, bool)>>,
}

impl<'a> Batch<'a> {
    fn new(messages: &'a [OutboundMessage]) -> Self {
        Batch { messages, slots: messages.iter().map(|m| vec![(None, true); m.recipients.len()]).collect() }
    }

    fn any_open(&self) -> bool {
        self.slots.iter().flatten().any(|(_, open)| *open)
    }

    /// The messages reduced to their open recipients, and for each
    /// (message, recipient) of the subset where it came from.
    fn open_subset(&self) -> (Vec<OutboundMessage>, Vec<(usize, Vec<usize>)>) {
        let mut subset = Vec::new();
        let mut index = Vec::new();
        for (m, msg) in self.messages.iter().enumerate() {
            let open: Vec<usize> = (0..msg.recipients.len()).filter(|&r| self.slots[m][r].1).collect();
            if open.is_empty() {
                continue;
            }
            subset.push(OutboundMessage {
                id: msg.id.clone(),
                sender: msg.sender.clone(),
                recipients: open.iter().map(|&r| msg.recipients[r].clone()).collect(),
                body: msg.body.clone(),
            });
            index.push((m, open));
        }
        (subset, index)
    }

    fn absorb(&mut self, index: &[(usize, Vec<usize>)], outcomes: Vec<Vec<RcptOutcome>>, retry: Vec<Vec<bool>>) {
        for ((m, rcpts), (outs, retries)) in index.iter().zip(outcomes.into_iter().zip(retry)) {
            for ((&r, outcome), again) in rcpts.iter().zip(outs).zip(retries) {
                self.slots[*m][r] = (Some(outcome), again);
            }
        }
    }

    fn finish(self, label: &str) -> Vec<Vec<RcptOutcome>> {
        self.slots
            .into_iter()
            .map(|msg| {
                msg.into_iter()
                    .map(|(o, _)| {
                        o.unwrap_or_else(|| RcptOutcome::Deferred {
                            host: None,
                            reason: format!("no mail host of {label} could be tried"),
                        })
                    })
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn msg(rcpts: &[&str]) -> OutboundMessage {
        OutboundMessage {
            id: "m".into(),
            sender: "s@x".into(),
            recipients: rcpts.iter().map(|s| s.to_string()).collect(),
            body: Arc::new(b"hi\r\n".to_vec()),
        }
    }

    fn deferred(r: &str) -> RcptOutcome {
        RcptOutcome::Deferred { host: Some("h".into()), reason: r.into() }
    }

    #[test]
    fn open_recipients_carry_over_to_the_next_host() {
        let msgs = [msg(&["a@y", "b@y"]), msg(&["c@y"])];
        let mut b = Batch::new(&msgs);
        let (subset, index) = b.open_subset();
        assert_eq!(subset.len(), 2);
        let delivered = RcptOutcome::Delivered { host: "h".into(), reply: "250 ok".into() };
        b.absorb(
            &index,
            vec![vec![delivered.clone(), deferred("lost")], vec![deferred("greylisted")]],
            vec![vec![false, true], vec![false]],
        );
        assert!(b.any_open());
        let (subset, index) = b.open_subset();
        assert_eq!(subset.len(), 1);
        assert_eq!(subset[0].recipients, vec!["b@y"]);
        assert_eq!(index, vec![(0, vec![1])]);
        b.absorb(&index, vec![vec![deferred("still lost")]], vec![vec![true]]);
        let out = b.finish("y");
        assert_eq!(out[0][0], delivered);
        assert_eq!(out[0][1], deferred("still lost"));
        assert_eq!(out[1][0], deferred("greylisted"));
    }

    #[test]
    fn nothing_tried_is_deferred() {
        let msgs = [msg(&["a@y"])];
        let out = Batch::new(&msgs).finish("y");
        assert!(matches!(&out[0][0], RcptOutcome::Deferred { reason, .. } if reason.contains("y")));
    }

    #[test]
    fn route_errors_map_to_outcomes() {
        use crate::route::RouteError;
        let o = route_outcome(&RouteError::NullMx("y".into()));
        assert!(matches!(o, RcptOutcome::Failed { status, .. } if status == "5.1.10"));
        let o = route_outcome(&RouteError::NoSuchDomain("y".into()));
        assert!(matches!(o, RcptOutcome::Failed { status, .. } if status == "5.1.2"));
        let o = route_outcome(&RouteError::Temporary("dns down".into()));
        assert!(matches!(o, RcptOutcome::Deferred { reason, .. } if reason == "dns down"));
    }
}

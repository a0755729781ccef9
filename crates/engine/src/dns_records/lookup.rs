//! Asking DNS for every name a domain's records need, all at once, under one
//! deadline. Resolver errors become [`Answer`]s with sentences of our own, so
//! no resolver debug text reaches an admin.

use std::net::IpAddr;
use std::time::Duration;

use futures::future::join_all;
use hickory_resolver::TokioResolver;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use tokio::time::Instant;

use super::verdict::{Answer, SrvValue, same_name};
use super::{DnsRecord, Found, RecordKind};

/// One question.
#[derive(Debug, Clone, Copy)]
enum Ask {
    Mx,
    Addrs,
    Txt,
    Cname,
    Srv,
}

/// Every answer the `records` of `domain` need, asked concurrently; a lookup
/// still running after `timeout` is a failed one.
pub(super) async fn all(
    resolver: &TokioResolver,
    domain: &str,
    hostname: &str,
    records: &[DnsRecord],
    timeout: Duration,
) -> Found {
    let deadline = Instant::now() + timeout;
    let mut asks: Vec<(String, Ask)> = vec![(hostname.to_string(), Ask::Addrs)];
    for r in records {
        match r.kind {
            RecordKind::Mx => asks.push((r.name.clone(), Ask::Mx)),
            RecordKind::Host => {}
            RecordKind::Spf | RecordKind::Dkim | RecordKind::Dmarc => asks.push((r.name.clone(), Ask::Txt)),
            RecordKind::Autoconfig => {
                asks.push((r.name.clone(), Ask::Cname));
                asks.push((r.name.clone(), Ask::Addrs));
            }
            RecordKind::Srv => asks.push((r.name.clone(), Ask::Srv)),
        }
    }
    tracing::debug!(domain, questions = asks.len(), "checking DNS records");
    let answers = join_all(asks.into_iter().map(|(name, ask)| async move {
        let answer = match ask {
            Ask::Addrs => Got::Addrs(addresses(resolver, &name, deadline).await),
            Ask::Mx => Got::Mx(map(query(resolver, &name, RecordType::MX, deadline).await, mx_of)),
            Ask::Txt => Got::Txt(map(query(resolver, &name, RecordType::TXT, deadline).await, txt_of)),
            Ask::Cname => Got::Cname(map(query(resolver, &name, RecordType::CNAME, deadline).await, cname_of)),
            Ask::Srv => Got::Srv(map(query(resolver, &name, RecordType::SRV, deadline).await, srv_of)),
        };
        (name, answer)
    }))
    .await;
    let mut found = Found::default();
    for (name, got) in answers {
        match got {
            Got::Mx(a) => {
                found.mx.insert(name, a);
            }
            Got::Addrs(a) => {
                found.addrs.insert(name, a);
            }
            Got::Txt(a) => {
                found.txt.insert(name, a);
            }
            Got::Cname(a) => {
                found.cname.insert(name, a);
            }
            Got::Srv(a) => {
                found.srv.insert(name, a);
            }
        }
    }
    found
}

/// One typed answer.
enum Got {
    Mx(Answer<(u16, String)>),
    Addrs(Answer<IpAddr>),
    Txt(Answer<String>),
    Cname(Answer<String>),
    Srv(Answer<SrvValue>),
}

fn mx_of(d: &RData) -> Option<(u16, String)> {
    match d {
        RData::MX(mx) => Some((mx.preference, same_name(&mx.exchange.to_ascii()))),
        _ => None,
    }
}

/// A TXT record's strings are one text, joined without separators.
fn txt_of(d: &RData) -> Option<String> {
    match d {
        RData::TXT(txt) => Some(txt.txt_data.iter().map(|s| String::from_utf8_lossy(s)).collect()),
        _ => None,
    }
}

fn cname_of(d: &RData) -> Option<String> {
    match d {
        RData::CNAME(c) => Some(same_name(&c.0.to_ascii())),
        _ => None,
    }
}

fn srv_of(d: &RData) -> Option<SrvValue> {
    match d {
        RData::SRV(s) => Some(SrvValue {
            priority: s.priority,
            weight: s.weight,
            port: s.port,
            target: same_name(&s.target.to_ascii()),
        }),
        _ => None,
    }
}

/// Keeps the records of the wanted type; an answer with none of them (a
/// CNAME chain alone, say) counts as no records.
fn map<T>(raw: Answer<RData>, f: impl Fn(&RData) -> Option<T>) -> Answer<T> {
    match raw {
        Answer::Found(data) => {
            let out: Vec<T> = data.iter().filter_map(f).collect();
            if out.is_empty() { Answer::NoRecords } else { Answer::Found(out) }
        }
        Answer::NoRecords => Answer::NoRecords,
        Answer::NoDomain => Answer::NoDomain,
        Answer::Failed(why) => Answer::Failed(why),
    }
}

/// One lookup of `name` (taken as fully qualified) and `rtype` before `deadline`.
async fn query(resolver: &TokioResolver, name: &str, rtype: RecordType, deadline: Instant) -> Answer<RData> {
    let Ok(mut fqdn) = Name::from_utf8(name) else {
        return Answer::Failed(format!("\"{name}\" is not a valid domain name"));
    };
    fqdn.set_fqdn(true);
    match tokio::time::timeout_at(deadline, resolver.lookup(fqdn, rtype)).await {
        Err(_) => Answer::Failed(format!("no answer came within {} seconds", super::CHECK_TIMEOUT.as_secs())),
        Ok(Ok(lookup)) => {
            let data: Vec<RData> = lookup.answers().iter().map(|r| r.data.clone()).collect();
            if data.is_empty() { Answer::NoRecords } else { Answer::Found(data) }
        }
        Ok(Err(e)) if e.is_nx_domain() => Answer::NoDomain,
        Ok(Err(e)) if e.is_no_records_found() => Answer::NoRecords,
        Ok(Err(e)) => {
            tracing::debug!(name, %rtype, error = %e, "DNS lookup failed");
            Answer::Failed(reason(&e))
        }
    }
}

/// A resolver error in plain language.
fn reason(e: &NetError) -> String {
    use hickory_resolver::net::DnsError;
    match e {
        NetError::Timeout => "the DNS server did not answer in time".to_string(),
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => {
            "the DNS server reported a failure (SERVFAIL)".to_string()
        }
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => {
            "the DNS server refused to answer (REFUSED)".to_string()
        }
        NetError::Dns(DnsError::ResponseCode(code)) => {
            format!("the DNS server answered with an error ({})", code.to_str())
        }
        NetError::NoConnections | NetError::Io(_) => "no DNS server could be reached".to_string(),
        _ => "the DNS lookup failed".to_string(),
    }
}

/// AAAA and A records of `name`, asked at the same time.
async fn addresses(resolver: &TokioResolver, name: &str, deadline: Instant) -> Answer<IpAddr> {
    let (v6, v4) =
        tokio::join!(query(resolver, name, RecordType::AAAA, deadline), query(resolver, name, RecordType::A, deadline));
    let pick = |d: &RData| match d {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
        _ => None,
    };
    let (v6, v4) = (map(v6, pick), map(v4, pick));
    let mut addrs = Vec::new();
    for a in [&v6, &v4] {
        if let Answer::Found(list) = a {
            addrs.extend(list.iter().copied().filter(|x| !addrs.contains(x)).collect::<Vec<_>>());
        }
    }
    if !addrs.is_empty() {
        return Answer::Found(addrs);
    }
    match (v6, v4) {
        (Answer::Failed(why), _) | (_, Answer::Failed(why)) => Answer::Failed(why),
        (Answer::NoDomain, Answer::NoDomain) => Answer::NoDomain,
        _ => Answer::NoRecords,
    }
}

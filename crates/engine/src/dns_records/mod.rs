//! The DNS records a domain needs so that mail to and from it works, and a
//! live check of what is actually published.
//!
//! For one local domain and this server's host name (the `hostname` setting)
//! [`records`] lists, in plain language, what to publish:
//!
//! * required: the MX record (where mail for the domain goes), an A/AAAA
//!   record for the host name itself, the SPF record (`v=spf1 mx -all`), one
//!   DKIM TXT record per key of the domain, and a DMARC policy;
//! * optional: `autoconfig.<domain>` (a CNAME to the host name, for mail
//!   programs that look it up) and the RFC 6186 SRV records
//!   `_submissions._tcp`, `_imaps._tcp` and `_pop3s._tcp`.
//!
//! [`check`] asks DNS for every one of them at once (with the resolver the
//! outbound delivery uses, so the `dns_servers` setting applies) within
//! [`CHECK_TIMEOUT`], and [`verdict`] compares what it found with what is
//! needed: `ok`, `missing`, `wrong` or `error`, each with a sentence that
//! says what to do. The comparisons are pure functions, tested without DNS.
//!
//! The admin API (`GET /api/v1/domains/{name}/dns` and `.../dns/check`) and
//! the CLI (`mailroomd dns show|check`) both call this module.

mod lookup;
pub mod verdict;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use mailroom_store::Store;

use verdict::{Answer, SrvValue, Verdict};

/// How long a whole live check may take; lookups still running then are
/// reported as `error`.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// DNS record type to publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordType {
    /// Mail exchanger.
    Mx,
    /// An IPv4 address (an AAAA record with an IPv6 address counts too).
    A,
    /// Text (SPF, DKIM, DMARC).
    Txt,
    /// Alias of another name.
    Cname,
    /// Service location (RFC 2782).
    Srv,
}

impl RecordType {
    /// The type as written in zone files.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Mx => "MX",
            RecordType::A => "A",
            RecordType::Txt => "TXT",
            RecordType::Cname => "CNAME",
            RecordType::Srv => "SRV",
        }
    }
}

/// What a record is for; decides how it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// The domain's MX record.
    Mx,
    /// The server's own address (A/AAAA of the host name).
    Host,
    /// The domain's SPF policy.
    Spf,
    /// One DKIM public key.
    Dkim,
    /// The domain's DMARC policy.
    Dmarc,
    /// `autoconfig.<domain>` for mail programs.
    Autoconfig,
    /// An RFC 6186 service record for mail programs.
    Srv,
}

/// One record to publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DnsRecord {
    /// What the record is for.
    pub kind: RecordKind,
    /// Record type.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub record_type: RecordType,
    /// Owner name, without a trailing dot, e.g. `_dmarc.example.com`.
    pub name: String,
    /// What to publish, e.g. `10 mail.example.com.` or `v=spf1 mx -all`.
    pub value: String,
    /// Why the record is needed, in plain language.
    pub purpose: String,
    /// Whether mail works badly without it (MX, address, SPF, DKIM, DMARC);
    /// optional records only help mail programs find the server.
    pub required: bool,
}

/// The result of checking one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = RecordStatus)]
pub enum Status {
    /// Published as needed.
    Ok,
    /// Not published at all.
    Missing,
    /// Published, but with a value that does not work for this server.
    Wrong,
    /// DNS could not be asked (timeout, server failure).
    Error,
}

impl Status {
    /// The status as one upper-case ASCII word, for terminals.
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Missing => "MISSING",
            Status::Wrong => "WRONG",
            Status::Error => "ERROR",
        }
    }
}

/// One record with what DNS says about it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckedRecord {
    /// The record as it should be published.
    #[serde(flatten)]
    pub record: DnsRecord,
    /// How what is published compares.
    pub status: Status,
    /// The values actually published (in the same notation as `value`).
    pub found: Vec<String>,
    /// What the status means and what to do, in plain language.
    pub detail: String,
}

/// The records one domain needs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DomainRecords {
    /// The domain, lower-case.
    pub domain: String,
    /// This server's host name (the `hostname` setting), which MX and the
    /// other records point to.
    pub hostname: String,
    /// Required records first, then optional ones.
    pub records: Vec<DnsRecord>,
}

/// The live check of one domain's records.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DomainCheck {
    /// The domain, lower-case.
    pub domain: String,
    /// This server's host name.
    pub hostname: String,
    /// Whether every required record is `ok`.
    pub ok: bool,
    /// Each record with its status.
    pub records: Vec<CheckedRecord>,
}

/// One DKIM key as it must be published.
#[derive(Debug, Clone)]
pub struct DkimEntry {
    /// Selector.
    pub selector: String,
    /// `rsa` or `ed25519`.
    pub algorithm: String,
    /// The TXT record: owner name and value (`v=DKIM1; k=...; p=...`).
    pub record: mailroom_dkim::DnsRecord,
}

/// Lower-case, without the trailing dot.
fn normalise(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The records `domain` needs when this server is `hostname`.
pub fn records(domain: &str, hostname: &str, dkim: &[DkimEntry]) -> Vec<DnsRecord> {
    let domain = normalise(domain);
    let host = normalise(hostname);
    let rec = |kind, record_type, name: String, value: String, purpose: String, required| DnsRecord {
        kind,
        record_type,
        name,
        value,
        purpose,
        required,
    };
    let mut out = vec![
        rec(
            RecordKind::Mx,
            RecordType::Mx,
            domain.clone(),
            format!("10 {host}."),
            format!("Tells other servers where to deliver mail for {domain}: to this server, {host}."),
            true,
        ),
        rec(
            RecordKind::Host,
            RecordType::A,
            host.clone(),
            "the public IP address of this server".to_string(),
            format!(
                "Gives the address of this server, {host}, which the MX record points to. Publish an A record \
                 with its IPv4 address, and an AAAA record with its IPv6 address if it has one."
            ),
            true,
        ),
        rec(
            RecordKind::Spf,
            RecordType::Txt,
            domain.clone(),
            "v=spf1 mx -all".to_string(),
            format!(
                "Tells receiving servers that the servers named in the MX record (this one) may send mail from \
                 {domain} addresses, and that no other server may (SPF)."
            ),
            true,
        ),
    ];
    for key in dkim {
        out.push(rec(
            RecordKind::Dkim,
            RecordType::Txt,
            normalise(&key.record.name),
            key.record.value.clone(),
            format!(
                "Publishes the public key that receiving servers use to verify this server's signature on mail \
                 from {domain} (DKIM, selector {}, {} key).",
                key.selector,
                key.algorithm.to_ascii_uppercase()
            ),
            true,
        ));
    }
    out.push(rec(
        RecordKind::Dmarc,
        RecordType::Txt,
        format!("_dmarc.{domain}"),
        format!("v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}"),
        format!(
            "Tells receiving servers to treat mail that claims to come from {domain} but fails the SPF and DKIM \
             checks as suspicious, and to send reports to postmaster@{domain} (DMARC)."
        ),
        true,
    ));
    out.push(rec(
        RecordKind::Autoconfig,
        RecordType::Cname,
        format!("autoconfig.{domain}"),
        format!("{host}."),
        format!(
            "Lets mail programs that look up autoconfig.{domain} (Thunderbird and others) find this server \
             when someone sets up an account."
        ),
        false,
    ));
    for (service, port, what) in [
        ("_submissions._tcp", 465, "send mail through (SMTP submission with TLS, port 465)"),
        ("_imaps._tcp", 993, "read mail from with IMAP (TLS, port 993)"),
        ("_pop3s._tcp", 995, "download mail from with POP3 (TLS, port 995)"),
    ] {
        out.push(rec(
            RecordKind::Srv,
            RecordType::Srv,
            format!("{service}.{domain}"),
            SrvValue { priority: 0, weight: 1, port, target: host.clone() }.to_string(),
            format!("Tells mail programs which server to {what} for {domain} addresses (RFC 6186)."),
            false,
        ));
    }
    out
}

/// The records a local domain needs, with its DKIM keys from the store.
/// A domain this server does not serve is a [`mailroom_store::Error::NotFound`].
pub fn for_domain(store: &Store, domain: &str, hostname: &str) -> anyhow::Result<DomainRecords> {
    let domain = normalise(domain);
    if !store.is_local_domain(&domain)? {
        return Err(mailroom_store::Error::NotFound(format!("{domain} is not one of this server's domains")).into());
    }
    let dkim = crate::domains::dkim_records(store, &domain)?
        .into_iter()
        .map(|(row, record)| DkimEntry { selector: row.selector, algorithm: row.algorithm, record })
        .collect::<Vec<_>>();
    let hostname = normalise(hostname);
    Ok(DomainRecords { records: records(&domain, &hostname, &dkim), domain, hostname })
}

/// Asks DNS (`dns_servers`, or the system's resolvers when empty) for every
/// record of `wanted`, all at once, and compares. Never fails: a resolver
/// that cannot be set up or does not answer makes the records `error`.
pub async fn check(wanted: DomainRecords, dns_servers: &[SocketAddr]) -> DomainCheck {
    let DomainRecords { domain, hostname, records } = wanted;
    let checked: Vec<CheckedRecord> = match mailroom_outbound::route::resolver(dns_servers) {
        Ok(resolver) => {
            let found = lookup::all(&resolver, &domain, &hostname, &records, CHECK_TIMEOUT).await;
            records.into_iter().map(|r| judge(r, &domain, &hostname, &found)).collect()
        }
        Err(e) => {
            tracing::warn!(error = %e, "DNS check without a resolver");
            let detail = format!(
                "DNS could not be asked: the resolver could not be set up. Check the dns_servers setting \
                 or the system's resolver configuration ({e})."
            );
            records
                .into_iter()
                .map(|record| CheckedRecord {
                    record,
                    status: Status::Error,
                    found: Vec::new(),
                    detail: detail.clone(),
                })
                .collect()
        }
    };
    let ok = checked.iter().filter(|c| c.record.required).all(|c| c.status == Status::Ok);
    tracing::info!(domain = %domain, ok, "DNS records checked");
    DomainCheck { domain, hostname, ok, records: checked }
}

/// What DNS answered, by owner name.
#[derive(Debug, Default)]
pub(crate) struct Found {
    mx: HashMap<String, Answer<(u16, String)>>,
    addrs: HashMap<String, Answer<std::net::IpAddr>>,
    txt: HashMap<String, Answer<String>>,
    cname: HashMap<String, Answer<String>>,
    srv: HashMap<String, Answer<SrvValue>>,
}

/// The answer for `name`; every name is asked before judging, so the
/// fallback is only a safety net.
fn get<T: Clone>(map: &HashMap<String, Answer<T>>, name: &str) -> Answer<T> {
    map.get(name).cloned().unwrap_or_else(|| Answer::Failed("this name was not looked up".to_string()))
}

fn judge(record: DnsRecord, domain: &str, hostname: &str, found: &Found) -> CheckedRecord {
    let host_addrs = match get(&found.addrs, hostname) {
        Answer::Found(a) => a,
        _ => Vec::new(),
    };
    let Verdict { status, found: values, detail } = match record.kind {
        RecordKind::Mx => verdict::mx(domain, hostname, &get(&found.mx, &record.name)),
        RecordKind::Host => verdict::host(hostname, &get(&found.addrs, &record.name)),
        RecordKind::Spf => verdict::spf(domain, hostname, &host_addrs, &get(&found.txt, &record.name)),
        RecordKind::Dkim => verdict::dkim(&record.name, &record.value, &get(&found.txt, &record.name)),
        RecordKind::Dmarc => verdict::dmarc(domain, &get(&found.txt, &record.name)),
        RecordKind::Autoconfig => verdict::alias(
            &record.name,
            hostname,
            &get(&found.cname, &record.name),
            &get(&found.addrs, &record.name),
            &host_addrs,
        ),
        RecordKind::Srv => match record.value.parse::<SrvValue>() {
            Ok(want) => verdict::srv(&record.name, &want, &get(&found.srv, &record.name)),
            Err(()) => Verdict::error(format!("the expected value of {} could not be read", record.name)),
        },
    };
    CheckedRecord { record, status, found: values, detail }
}

#[cfg(test)]
mod tests;

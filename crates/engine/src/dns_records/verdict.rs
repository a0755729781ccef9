//! Comparing what DNS answered with what a record needs: pure functions from
//! an [`Answer`] to a [`Verdict`] (status, the values found, and a sentence
//! for the admin). No I/O here; `lookup.rs` produces the answers.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::Status;

/// What DNS said about one name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<T> {
    /// Records of the type asked (never empty).
    Found(Vec<T>),
    /// The name exists but has no records of that type.
    NoRecords,
    /// The name does not exist (NXDOMAIN).
    NoDomain,
    /// The lookup failed (timeout, server failure); a plain-language reason.
    Failed(String),
}

/// The outcome of comparing one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Ok, missing, wrong or error.
    pub status: Status,
    /// The values published, in zone-file notation.
    pub found: Vec<String>,
    /// What it means and what to do.
    pub detail: String,
}

impl Verdict {
    fn new(status: Status, found: Vec<String>, detail: impl Into<String>) -> Self {
        Self { status, found, detail: detail.into() }
    }

    /// An `error` verdict with nothing found.
    pub fn error(detail: impl Into<String>) -> Self {
        Self::new(Status::Error, Vec::new(), detail)
    }
}

/// The value of an SRV record: `priority weight port target.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvValue {
    /// Priority (lower first).
    pub priority: u16,
    /// Weight among equal priorities.
    pub weight: u16,
    /// TCP port.
    pub port: u16,
    /// Target host, lower-case, without the trailing dot (empty for `.`).
    pub target: String,
}

impl fmt::Display for SrvValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} {}.", self.priority, self.weight, self.port, self.target)
    }
}

impl FromStr for SrvValue {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let mut parts = s.split_whitespace();
        let mut num = || parts.next().and_then(|p| p.parse::<u16>().ok()).ok_or(());
        let (priority, weight, port) = (num()?, num()?, num()?);
        let target = parts.next().ok_or(())?;
        Ok(SrvValue { priority, weight, port, target: same_name(target) })
    }
}

/// A host name as compared: lower-case, without the trailing dot.
pub fn same_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The sentence for a lookup that failed.
fn failed(what: &str, name: &str, why: &str) -> Verdict {
    Verdict::error(format!(
        "Could not check the {what} of {name}: {why}. Try again in a moment; if it keeps failing, check that \
         the DNS servers this server uses (the dns_servers setting, or the system's) answer."
    ))
}

/// The domain's MX record must name `hostname`.
pub fn mx(domain: &str, hostname: &str, answer: &Answer<(u16, String)>) -> Verdict {
    let records = match answer {
        Answer::Found(r) => r,
        Answer::NoRecords => {
            return Verdict::new(
                Status::Missing,
                Vec::new(),
                format!(
                    "No MX record is published for {domain}; other servers cannot find where to deliver its mail. \
                     Add an MX record pointing to {hostname}."
                ),
            );
        }
        Answer::NoDomain => {
            return Verdict::new(
                Status::Missing,
                Vec::new(),
                format!(
                    "The domain {domain} does not exist in DNS, so other servers cannot deliver mail to it. \
                     Register it (or check its spelling) and add an MX record pointing to {hostname}."
                ),
            );
        }
        Answer::Failed(why) => return failed("MX record", domain, why),
    };
    let found: Vec<String> = records.iter().map(|(p, h)| format!("{p} {}.", same_name(h))).collect();
    let hosts: Vec<String> = records.iter().map(|(_, h)| same_name(h)).collect();
    if hosts.iter().all(|h| h.is_empty()) {
        return Verdict::new(
            Status::Wrong,
            found,
            format!(
                "The MX record of {domain} says the domain accepts no mail (a \"null MX\"). Replace it with an MX \
                 record pointing to {hostname}."
            ),
        );
    }
    if hosts.iter().any(|h| h == hostname) {
        let others: Vec<&String> = hosts.iter().filter(|h| *h != hostname && !h.is_empty()).collect();
        let detail = if others.is_empty() {
            format!("Mail for {domain} is delivered to this server, {hostname}.")
        } else {
            let list: Vec<&str> = others.iter().map(|s| s.as_str()).collect();
            format!(
                "Mail for {domain} is delivered to this server, {hostname}; the MX records also name {}, \
                 which must pass the mail on to this server.",
                list.join(", ")
            )
        };
        return Verdict::new(Status::Ok, found, detail);
    }
    Verdict::new(
        Status::Wrong,
        found,
        format!(
            "The MX record of {domain} points to {}, not to this server ({hostname}), so mail for {domain} goes \
             elsewhere. Change it to point to {hostname}.",
            hosts.join(", ")
        ),
    )
}

/// The host name must have at least one address.
pub fn host(hostname: &str, answer: &Answer<IpAddr>) -> Verdict {
    let not_fqdn = if hostname.contains('.') {
        String::new()
    } else {
        format!(
            " ({hostname} is not a full domain name; set the hostname setting to this server's public name, \
             such as mail.example.com.)"
        )
    };
    match answer {
        Answer::Found(addrs) => {
            let found: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
            let detail = format!(
                "{hostname} has the address{} {}. Make sure it is this server's public address.",
                if found.len() == 1 { "" } else { "es" },
                found.join(", ")
            );
            Verdict::new(Status::Ok, found, detail)
        }
        Answer::NoRecords | Answer::NoDomain => Verdict::new(
            Status::Missing,
            Vec::new(),
            format!(
                "No A or AAAA record is published for {hostname}, so other servers cannot connect to this server \
                 even when an MX record names it. Add an A record with this server's public IPv4 address.{not_fqdn}"
            ),
        ),
        Answer::Failed(why) => failed("address", hostname, why),
    }
}

/// How a term of an SPF record starts: `+` (pass, the default), `-`, `~`, `?`.
fn spf_term(term: &str) -> (bool, &str) {
    match term.as_bytes().first() {
        Some(b'+') => (true, &term[1..]),
        Some(b'-' | b'~' | b'?') => (false, &term[1..]),
        _ => (true, term),
    }
}

/// Whether a `ip4:`/`ip6:` network (with optional prefix length) holds `addr`.
fn net_contains(net: &str, addr: &IpAddr) -> bool {
    if let Ok(n) = net.parse::<ipnet::IpNet>() {
        return n.contains(addr);
    }
    net.parse::<IpAddr>().is_ok_and(|a| a == *addr)
}

/// Whether one SPF record lets this server send: `mx` (the MX points here),
/// `mx:<domain>`, `a:<hostname>` (or a bare `a` when the domain is the host
/// name), or an `ip4:`/`ip6:` network holding one of the host's addresses.
/// `Err` carries a reason the record is harmful (`+all`).
fn spf_authorises(record: &str, domain: &str, hostname: &str, host_addrs: &[IpAddr]) -> Result<bool, String> {
    let mut ok = false;
    for term in record.split_whitespace().skip(1) {
        let (pass, term) = spf_term(term);
        let term = term.to_ascii_lowercase();
        let (mechanism, arg) = match term.split_once(':') {
            Some((m, a)) => (m.to_string(), Some(a.split('/').next().unwrap_or(a).to_string())),
            None => (term.split('/').next().unwrap_or(&term).to_string(), None),
        };
        if mechanism == "all" && pass {
            return Err(format!(
                "The SPF record of {domain} ends in \"+all\", which lets any server on the Internet send mail as \
                 {domain}. Replace it with \"v=spf1 mx -all\"."
            ));
        }
        if !pass {
            continue;
        }
        let arg_name = arg.as_deref().map(same_name);
        ok |= match (mechanism.as_str(), arg_name.as_deref()) {
            ("mx", None) => true,
            ("mx", Some(d)) => d == domain,
            ("a", None) => domain == hostname,
            ("a", Some(h)) => h == hostname,
            ("ip4" | "ip6", Some(_)) => {
                let net = term.split_once(':').map(|(_, n)| n).unwrap_or_default();
                host_addrs.iter().any(|a| net_contains(net, a))
            }
            _ => false,
        };
    }
    Ok(ok)
}

/// The domain's SPF record must let this server send.
pub fn spf(domain: &str, hostname: &str, host_addrs: &[IpAddr], answer: &Answer<String>) -> Verdict {
    let texts = match answer {
        Answer::Found(t) => t.as_slice(),
        Answer::NoRecords | Answer::NoDomain => &[],
        Answer::Failed(why) => return failed("SPF record", domain, why),
    };
    let is_spf = |t: &&String| {
        let t = t.trim_start().to_ascii_lowercase();
        t == "v=spf1" || t.starts_with("v=spf1 ")
    };
    let found: Vec<String> = texts.iter().filter(is_spf).cloned().collect();
    match found.as_slice() {
        [] => Verdict::new(
            Status::Missing,
            found,
            format!(
                "No SPF record is published for {domain}, so receiving servers cannot tell that this server may \
                 send its mail, and are more likely to treat it as spam. Add a TXT record \"v=spf1 mx -all\"."
            ),
        ),
        [one] => match spf_authorises(one, domain, hostname, host_addrs) {
            Ok(true) => Verdict::new(Status::Ok, found, format!("The SPF record of {domain} lets this server send.")),
            Ok(false) => {
                let follows = if one.to_ascii_lowercase().contains("include:")
                    || one.to_ascii_lowercase().contains("redirect=")
                {
                    " It refers to other SPF records, which this check does not follow; if one of them lists this \
                     server's address, mail is fine."
                } else {
                    ""
                };
                Verdict::new(
                    Status::Wrong,
                    found,
                    format!(
                        "The SPF record of {domain} does not name this server, so receiving servers may reject or \
                         flag its mail. Add \"mx\" to it (for example \"v=spf1 mx -all\").{follows}"
                    ),
                )
            }
            Err(why) => Verdict::new(Status::Wrong, found, why),
        },
        _ => Verdict::new(
            Status::Wrong,
            found,
            format!(
                "{domain} has more than one SPF record, which receiving servers treat as an error. Merge them into \
                 one TXT record, such as \"v=spf1 mx -all\"."
            ),
        ),
    }
}

/// The value of tag `tag` in a `tag=value; ...` record, whitespace removed.
fn tag_value(record: &str, tag: &str) -> Option<String> {
    record.split(';').find_map(|part| {
        let (t, v) = part.split_once('=')?;
        (t.trim().eq_ignore_ascii_case(tag)).then(|| v.chars().filter(|c| !c.is_whitespace()).collect())
    })
}

/// A DKIM record must publish the same public key (`p=`) as `expected`.
pub fn dkim(name: &str, expected: &str, answer: &Answer<String>) -> Verdict {
    let texts = match answer {
        Answer::Found(t) => t.clone(),
        Answer::NoRecords | Answer::NoDomain => Vec::new(),
        Answer::Failed(why) => return failed("DKIM key record", name, why),
    };
    let want = tag_value(expected, "p").unwrap_or_default();
    if texts.is_empty() {
        return Verdict::new(
            Status::Missing,
            texts,
            format!(
                "No DKIM key is published at {name}, so receiving servers cannot verify this server's signatures \
                 and may treat its mail as spam. Add the TXT record shown."
            ),
        );
    }
    let keys: Vec<Option<String>> = texts.iter().map(|t| tag_value(t, "p")).collect();
    if keys.iter().flatten().any(|p| !want.is_empty() && *p == want) {
        return Verdict::new(Status::Ok, texts, format!("The DKIM key at {name} matches this server's key."));
    }
    let detail = if keys.iter().all(|k| k.is_none()) {
        format!("The TXT record at {name} is not a DKIM key (it has no \"p=\"). Replace it with the record shown.")
    } else if keys.iter().flatten().all(|p| p.is_empty()) {
        format!(
            "The DKIM record at {name} has an empty key (\"p=\"), which means the key was withdrawn; signatures \
             with it fail. Replace it with the record shown."
        )
    } else {
        format!(
            "The DKIM record at {name} publishes a different key from the one this server signs with, so its \
             signatures fail. Replace the record with the one shown."
        )
    };
    Verdict::new(Status::Wrong, texts, detail)
}

/// Any one record starting with `v=DMARC1` at `_dmarc.<domain>` is fine.
pub fn dmarc(domain: &str, answer: &Answer<String>) -> Verdict {
    let texts = match answer {
        Answer::Found(t) => t.clone(),
        Answer::NoRecords | Answer::NoDomain => Vec::new(),
        Answer::Failed(why) => return failed("DMARC record", domain, why),
    };
    let policies: Vec<&String> =
        texts.iter().filter(|t| t.trim_start().to_ascii_lowercase().starts_with("v=dmarc1")).collect();
    match policies.as_slice() {
        [] if texts.is_empty() => Verdict::new(
            Status::Missing,
            texts,
            format!(
                "No DMARC policy is published at _dmarc.{domain}. Large mail providers expect one from every domain \
                 that sends mail; add the TXT record shown."
            ),
        ),
        [] => Verdict::new(
            Status::Wrong,
            texts,
            format!(
                "The TXT record at _dmarc.{domain} is not a DMARC policy (it does not start with \"v=DMARC1\"). \
                 Replace it with the record shown."
            ),
        ),
        [one] => {
            let p = tag_value(one, "p").unwrap_or_default().to_ascii_lowercase();
            let detail = if p == "none" {
                format!(
                    "A DMARC policy is published for {domain} (p=none: receivers only report, they do not act on \
                     failures)."
                )
            } else {
                format!("A DMARC policy is published for {domain}.")
            };
            Verdict::new(Status::Ok, texts, detail)
        }
        _ => Verdict::new(
            Status::Wrong,
            texts,
            format!(
                "There is more than one DMARC policy at _dmarc.{domain}, so receivers ignore them all. Keep only one."
            ),
        ),
    }
}

/// A name that should lead to this server: a CNAME to `hostname`, or A/AAAA
/// records that are all among the host's addresses.
pub fn alias(
    name: &str,
    hostname: &str,
    cname: &Answer<String>,
    addrs: &Answer<IpAddr>,
    host_addrs: &[IpAddr],
) -> Verdict {
    let targets: Vec<String> = match cname {
        Answer::Found(t) => t.iter().map(|t| same_name(t)).collect(),
        _ => Vec::new(),
    };
    let found_addrs: Vec<IpAddr> = match addrs {
        Answer::Found(a) => a.clone(),
        _ => Vec::new(),
    };
    let mut found: Vec<String> = targets.iter().map(|t| format!("{t}.")).collect();
    found.extend(found_addrs.iter().map(|a| a.to_string()));
    if targets.iter().any(|t| t == hostname) {
        return Verdict::new(Status::Ok, found, format!("{name} points to this server, {hostname}."));
    }
    if !found_addrs.is_empty() && found_addrs.iter().all(|a| host_addrs.contains(a)) {
        return Verdict::new(Status::Ok, found, format!("{name} has the same address as this server, {hostname}."));
    }
    if found.is_empty() {
        if let (Answer::Failed(why), _) | (_, Answer::Failed(why)) = (cname, addrs) {
            return failed("record", name, why);
        }
        return Verdict::new(
            Status::Missing,
            found,
            format!(
                "{name} is not published; mail programs that look it up will not find this server. (Optional: \
                 people can still enter the server's name by hand.) Add a CNAME record pointing to {hostname}."
            ),
        );
    }
    let shown = if targets.is_empty() { found.join(", ") } else { targets.join(", ") };
    Verdict::new(
        Status::Wrong,
        found,
        format!(
            "{name} points to {shown}, not to this server ({hostname}). Change it to a CNAME record pointing to \
             {hostname}."
        ),
    )
}

/// An RFC 6186 SRV record must name `hostname` on the expected port.
pub fn srv(name: &str, want: &SrvValue, answer: &Answer<SrvValue>) -> Verdict {
    let records = match answer {
        Answer::Found(r) => r,
        Answer::NoRecords | Answer::NoDomain => {
            return Verdict::new(
                Status::Missing,
                Vec::new(),
                format!(
                    "{name} is not published; mail programs that look it up will not find this server. (Optional: \
                     people can still enter the server's name and port by hand.)"
                ),
            );
        }
        Answer::Failed(why) => return failed("SRV record", name, why),
    };
    let found: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    if records.iter().any(|r| r.target == want.target && r.port == want.port) {
        return Verdict::new(
            Status::Ok,
            found,
            format!("{name} points to this server, {}, port {}.", want.target, want.port),
        );
    }
    if records.len() == 1 && records[0].target.is_empty() {
        return Verdict::new(
            Status::Wrong,
            found,
            format!("{name} says the service is not offered (its target is \".\"). Replace it with the record shown."),
        );
    }
    let shown: Vec<String> = records.iter().map(|r| format!("{}:{}", r.target, r.port)).collect();
    Verdict::new(
        Status::Wrong,
        found,
        format!(
            "{name} points to {} instead of {}:{}. Replace it with the record shown.",
            shown.join(", "),
            want.target,
            want.port
        ),
    )
}

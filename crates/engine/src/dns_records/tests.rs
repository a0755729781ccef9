//! Record computation and the comparisons, without DNS.

use std::net::IpAddr;

use super::verdict::{self, Answer, SrvValue};
use super::*;

const HOST: &str = "mail.example.net";

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn dkim_entry(selector: &str, key: &str) -> DkimEntry {
    DkimEntry {
        selector: selector.into(),
        algorithm: "rsa".into(),
        record: mailroom_dkim::DnsRecord {
            name: format!("{selector}._domainkey.example.com"),
            value: format!("v=DKIM1; k=rsa; p={key}"),
        },
    }
}

fn texts(list: &[&str]) -> Answer<String> {
    Answer::Found(list.iter().map(|s| s.to_string()).collect())
}

#[test]
fn records_of_a_domain() {
    let recs = records("Example.COM.", "Mail.Example.net.", &[dkim_entry("s1", "AAAA"), dkim_entry("s2", "BBBB")]);
    let by = |name: &str, t: RecordType| {
        recs.iter().find(|r| r.name == name && r.record_type == t).unwrap_or_else(|| panic!("no {t:?} at {name}"))
    };
    let mx = by("example.com", RecordType::Mx);
    assert_eq!(mx.value, "10 mail.example.net.");
    assert!(mx.required);
    assert!(mx.purpose.contains("deliver mail for example.com"), "{}", mx.purpose);
    assert!(by(HOST, RecordType::A).required);
    assert_eq!(by("example.com", RecordType::Txt).value, "v=spf1 mx -all");
    assert_eq!(by("s1._domainkey.example.com", RecordType::Txt).value, "v=DKIM1; k=rsa; p=AAAA");
    assert_eq!(by("s2._domainkey.example.com", RecordType::Txt).kind, RecordKind::Dkim);
    assert_eq!(
        by("_dmarc.example.com", RecordType::Txt).value,
        "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.com"
    );
    let auto = by("autoconfig.example.com", RecordType::Cname);
    assert_eq!(auto.value, "mail.example.net.");
    assert!(!auto.required);
    for (name, port) in
        [("_submissions._tcp.example.com", 465), ("_imaps._tcp.example.com", 993), ("_pop3s._tcp.example.com", 995)]
    {
        let srv = by(name, RecordType::Srv);
        assert_eq!(srv.value, format!("0 1 {port} mail.example.net."));
        assert!(!srv.required);
    }
    assert_eq!(recs.len(), 10);
    // Required records come first.
    let first_optional = recs.iter().position(|r| !r.required).expect("optional records");
    assert!(recs[first_optional..].iter().all(|r| !r.required));
    assert!(recs.iter().all(|r| !r.purpose.is_empty()));
}

#[test]
fn json_shape() {
    let recs = records("example.com", HOST, &[]);
    let v = serde_json::to_value(&recs[0]).expect("json");
    assert_eq!(v["type"], "MX");
    assert_eq!(v["kind"], "mx");
    assert_eq!(v["name"], "example.com");
    assert_eq!(v["required"], true);
    let checked = CheckedRecord { record: recs[0].clone(), status: Status::Missing, found: vec![], detail: "x".into() };
    let v = serde_json::to_value(&checked).expect("json");
    assert_eq!(v["status"], "missing");
    assert_eq!(v["type"], "MX");
    assert_eq!(v["found"], serde_json::json!([]));
}

#[test]
fn mx_verdicts() {
    let ok = verdict::mx("example.com", HOST, &Answer::Found(vec![(10, "MAIL.example.net".into())]));
    assert_eq!(ok.status, Status::Ok);
    assert_eq!(ok.found, vec!["10 mail.example.net."]);
    let backup =
        verdict::mx("example.com", HOST, &Answer::Found(vec![(10, HOST.into()), (20, "backup.example.org".into())]));
    assert_eq!(backup.status, Status::Ok);
    assert!(backup.detail.contains("backup.example.org"));
    let elsewhere = verdict::mx("example.com", HOST, &Answer::Found(vec![(10, "mx.other.example".into())]));
    assert_eq!(elsewhere.status, Status::Wrong);
    assert!(elsewhere.detail.contains("mx.other.example"));
    let null = verdict::mx("example.com", HOST, &Answer::Found(vec![(0, String::new())]));
    assert_eq!(null.status, Status::Wrong);
    assert!(null.detail.contains("null MX"));
    let none = verdict::mx("example.com", HOST, &Answer::NoRecords);
    assert_eq!(none.status, Status::Missing);
    assert!(none.detail.starts_with("No MX record is published for example.com"));
    assert_eq!(verdict::mx("example.com", HOST, &Answer::NoDomain).status, Status::Missing);
    let err = verdict::mx("example.com", HOST, &Answer::Failed("no answer came within 5 seconds".into()));
    assert_eq!(err.status, Status::Error);
    assert!(err.detail.contains("no answer came within 5 seconds"));
}

#[test]
fn host_verdicts() {
    let ok = verdict::host(HOST, &Answer::Found(vec![ip("192.0.2.1"), ip("2001:db8::1")]));
    assert_eq!(ok.status, Status::Ok);
    assert_eq!(ok.found, vec!["192.0.2.1", "2001:db8::1"]);
    let missing = verdict::host("myhost", &Answer::NoDomain);
    assert_eq!(missing.status, Status::Missing);
    assert!(missing.detail.contains("not a full domain name"));
}

#[test]
fn spf_variants() {
    let addrs = [ip("192.0.2.10"), ip("2001:db8::10")];
    let spf = |t: &[&str]| verdict::spf("example.com", HOST, &addrs, &texts(t));
    for good in [
        "v=spf1 mx -all",
        "V=SPF1 +MX ~all",
        "v=spf1 mx:example.com -all",
        "v=spf1 a:mail.example.net -all",
        "v=spf1 a:mail.example.net/24 -all",
        "v=spf1 ip4:192.0.2.0/24 -all",
        "v=spf1 ip4:192.0.2.10 -all",
        "v=spf1 ip6:2001:db8::/32 -all",
        "v=spf1 include:_spf.provider.example mx -all",
    ] {
        let v = spf(&["google-site-verification=abc", good]);
        assert_eq!(v.status, Status::Ok, "{good}: {}", v.detail);
        assert_eq!(v.found, vec![good.to_string()], "only the SPF record is shown");
    }
    for bad in [
        "v=spf1 -all",
        "v=spf1 -mx -all",
        "v=spf1 a:other.example -all",
        "v=spf1 ip4:198.51.100.0/24 -all",
        "v=spf1 mx:other.example -all",
    ] {
        let v = spf(&[bad]);
        assert_eq!(v.status, Status::Wrong, "{bad}");
        assert!(v.detail.contains("does not name this server"), "{}", v.detail);
    }
    let include = spf(&["v=spf1 include:_spf.provider.example -all"]);
    assert_eq!(include.status, Status::Wrong);
    assert!(include.detail.contains("does not follow"), "{}", include.detail);
    let plus_all = spf(&["v=spf1 mx +all"]);
    assert_eq!(plus_all.status, Status::Wrong);
    assert!(plus_all.detail.contains("+all"));
    let two = spf(&["v=spf1 mx -all", "v=spf1 a -all"]);
    assert_eq!(two.status, Status::Wrong);
    assert!(two.detail.contains("more than one"));
    // A TXT record that merely starts with the letters is not SPF.
    assert_eq!(spf(&["v=spf10 mx"]).status, Status::Missing);
    assert_eq!(spf(&["some other text"]).status, Status::Missing);
    assert_eq!(verdict::spf("example.com", HOST, &addrs, &Answer::NoDomain).status, Status::Missing);
    // A bare "a" counts only when the domain itself is the host name.
    assert_eq!(verdict::spf(HOST, HOST, &[], &texts(&["v=spf1 a -all"])).status, Status::Ok);
    assert_eq!(spf(&["v=spf1 a -all"]).status, Status::Wrong);
}

#[test]
fn dkim_key_comparison() {
    let name = "s1._domainkey.example.com";
    let want = "v=DKIM1; k=rsa; p=MIIBIjANBgkq";
    let dkim = |t: &[&str]| verdict::dkim(name, want, &texts(t));
    assert_eq!(dkim(&["v=DKIM1; k=rsa; p=MIIBIjANBgkq"]).status, Status::Ok);
    // Whitespace inside the key, other tag order and case are fine.
    assert_eq!(dkim(&["k=rsa;  P = MIIB IjAN Bgkq ; v=DKIM1"]).status, Status::Ok);
    let other = dkim(&["v=DKIM1; k=rsa; p=OTHERKEY"]);
    assert_eq!(other.status, Status::Wrong);
    assert!(other.detail.contains("different key"), "{}", other.detail);
    assert_eq!(other.found, vec!["v=DKIM1; k=rsa; p=OTHERKEY"]);
    let revoked = dkim(&["v=DKIM1; p="]);
    assert_eq!(revoked.status, Status::Wrong);
    assert!(revoked.detail.contains("empty key"));
    let not_dkim = dkim(&["hello"]);
    assert_eq!(not_dkim.status, Status::Wrong);
    assert!(not_dkim.detail.contains("not a DKIM key"));
    assert_eq!(verdict::dkim(name, want, &Answer::NoDomain).status, Status::Missing);
    assert_eq!(verdict::dkim(name, want, &Answer::Failed("x".into())).status, Status::Error);
}

#[test]
fn dmarc_verdicts() {
    let d = |t: &[&str]| verdict::dmarc("example.com", &texts(t));
    assert_eq!(d(&["v=DMARC1; p=reject"]).status, Status::Ok);
    let none = d(&["v=DMARC1; p=none"]);
    assert_eq!(none.status, Status::Ok);
    assert!(none.detail.contains("p=none"));
    assert_eq!(d(&["something else"]).status, Status::Wrong);
    assert_eq!(d(&["v=DMARC1; p=none", "v=DMARC1; p=reject"]).status, Status::Wrong);
    assert_eq!(verdict::dmarc("example.com", &Answer::NoDomain).status, Status::Missing);
}

#[test]
fn autoconfig_cname_or_address() {
    let name = "autoconfig.example.com";
    let host_addrs = [ip("192.0.2.10")];
    let alias = |c: Answer<String>, a: Answer<IpAddr>| verdict::alias(name, HOST, &c, &a, &host_addrs);
    // A CNAME to the host name (the resolver also follows it to the addresses).
    let cname = alias(Answer::Found(vec![HOST.into()]), Answer::Found(vec![ip("192.0.2.10")]));
    assert_eq!(cname.status, Status::Ok);
    assert_eq!(cname.found, vec!["mail.example.net.", "192.0.2.10"]);
    // An A record with the host's address.
    assert_eq!(alias(Answer::NoRecords, Answer::Found(vec![ip("192.0.2.10")])).status, Status::Ok);
    // An A record elsewhere.
    let elsewhere = alias(Answer::NoRecords, Answer::Found(vec![ip("198.51.100.7")]));
    assert_eq!(elsewhere.status, Status::Wrong);
    assert!(elsewhere.detail.contains("198.51.100.7"));
    // A CNAME to another host.
    let other = alias(Answer::Found(vec!["web.example.com".into()]), Answer::Found(vec![ip("198.51.100.7")]));
    assert_eq!(other.status, Status::Wrong);
    assert!(other.detail.contains("web.example.com"));
    assert_eq!(alias(Answer::NoDomain, Answer::NoDomain).status, Status::Missing);
    assert_eq!(alias(Answer::NoDomain, Answer::Failed("x".into())).status, Status::Error);
    // Without knowing the host's addresses, an A record cannot be matched.
    let unknown = verdict::alias(name, HOST, &Answer::NoRecords, &Answer::Found(vec![ip("192.0.2.10")]), &[]);
    assert_eq!(unknown.status, Status::Wrong);
}

#[test]
fn srv_verdicts() {
    let name = "_imaps._tcp.example.com";
    let want: SrvValue = "0 1 993 mail.example.net.".parse().expect("srv");
    assert_eq!(want.to_string(), "0 1 993 mail.example.net.");
    let srv = |list: &[&str]| {
        verdict::srv(name, &want, &Answer::Found(list.iter().map(|s| s.parse().expect("srv")).collect()))
    };
    assert_eq!(srv(&["10 5 993 MAIL.example.net."]).status, Status::Ok);
    let port = srv(&["0 1 143 mail.example.net."]);
    assert_eq!(port.status, Status::Wrong);
    assert!(port.detail.contains("mail.example.net:143"));
    let dot = srv(&["0 0 0 ."]);
    assert_eq!(dot.status, Status::Wrong);
    assert!(dot.detail.contains("not offered"));
    assert_eq!(verdict::srv(name, &want, &Answer::NoDomain).status, Status::Missing);
    assert!("0 1 nope host.".parse::<SrvValue>().is_err());
}

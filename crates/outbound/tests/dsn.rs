//! Delivery status notifications as a mail client sees them: built by `dsn::build`, then taken apart
//! with mail-parser (an independent MIME parser) and checked against RFC 3464 / RFC 6522 and RFC 5322
//! line rules.

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::{MessageParser, MimeHeaders, PartType};
use mailroom_outbound::dsn::{DsnInput, DsnKind, DsnRecipient, build, is_auto_generated};

const HOST: &str = "mx.example.test";

const ORIGINAL: &[u8] = b"Return-Path: <alice@example.test>\r\n\
From: Alice <alice@example.test>\r\n\
To: bob@elsewhere.test, carol@nowhere.test\r\n\
Subject: Quarterly numbers\r\n\
Message-ID: <q2-report@example.test>\r\n\
Date: Mon, 3 Jun 2024 10:00:00 +0000\r\n\
\r\n\
BODY-SECRET-LINE: the numbers are attached.\r\n";

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, day, hour, 0, 0).single().expect("valid date")
}

fn failed_recipients() -> Vec<DsnRecipient> {
    vec![
        DsnRecipient {
            recipient: "bob@elsewhere.test".into(),
            status: "5.1.1".into(),
            diagnostic: "550 5.1.1 <bob@elsewhere.test>: Recipient address rejected: User unknown".into(),
            remote_mta: Some("mx1.elsewhere.test".into()),
            last_attempt: at(3, 10),
            will_retry_until: None,
        },
        DsnRecipient {
            recipient: "carol@nowhere.test".into(),
            status: "5.4.4".into(),
            diagnostic: "no mail server accepts mail for nowhere.test (null MX)".into(),
            remote_mta: None,
            last_attempt: at(3, 10),
            will_retry_until: None,
        },
    ]
}

fn input<'a>(kind: DsnKind, original: &'a [u8], recipients: &'a [DsnRecipient]) -> DsnInput<'a> {
    DsnInput {
        kind,
        reporting_mta: HOST,
        postmaster: "postmaster@example.test",
        original_sender: "alice@example.test",
        original_message: original,
        arrival_date: at(3, 9),
        queue_id: "Q7F3A9",
        recipients,
    }
}

/// Wire rules every report must keep, whatever went into it.
fn assert_well_formed(dsn: &[u8]) {
    let text = String::from_utf8(dsn.to_vec()).expect("a DSN is UTF-8");
    assert!(text.ends_with("\r\n"));
    for (n, line) in text.split("\r\n").enumerate() {
        assert!(!line.contains('\n') && !line.contains('\r'), "bare CR or LF in line {n}: {line:?}");
        assert!(line.len() <= 998, "line {n} has {} octets", line.len());
    }
    let header_end = text.find("\r\n\r\n").expect("header section ends");
    assert!(text[..header_end].is_ascii(), "header values are ASCII");
}

/// The three sub-parts of the report: (content type, bytes).
fn report_parts(dsn: &[u8]) -> Vec<(String, Vec<u8>)> {
    let message = MessageParser::default().parse(dsn).expect("mail-parser parses the DSN");
    let root = message.root_part();
    let ct = root.content_type().expect("content type");
    assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("report")));
    assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
    let PartType::Multipart(ids) = &root.body else { panic!("root is multipart") };
    ids.iter()
        .map(|&id| {
            let part = message.part(id).expect("sub-part");
            let ct = part.content_type().expect("sub-part content type");
            (format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")), part.contents().to_vec())
        })
        .collect()
}

/// `message/delivery-status` as groups of (field, value), unfolded: the per-message group first.
fn status_groups(body: &[u8]) -> Vec<Vec<(String, String)>> {
    let text = String::from_utf8(body.to_vec()).expect("delivery-status is ASCII");
    assert!(text.is_ascii());
    text.replace("\r\n ", " ")
        .split("\r\n\r\n")
        .filter(|g| !g.trim().is_empty())
        .map(|g| {
            g.lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                .collect()
        })
        .collect()
}

fn get<'a>(group: &'a [(String, String)], name: &str) -> Option<&'a str> {
    group.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

#[test]
fn failure_report_has_the_three_parts_a_client_expects() {
    let recipients = failed_recipients();
    let dsn = build(&input(DsnKind::Failure, ORIGINAL, &recipients));
    assert_well_formed(&dsn);

    let message = MessageParser::default().parse(&dsn).expect("parses");
    assert_eq!(message.subject(), Some("Undelivered Mail Returned to Sender"));
    let from = message.from().and_then(|a| a.first()).expect("From");
    assert_eq!(from.name.as_deref(), Some("Mail Delivery System"));
    assert_eq!(from.address.as_deref(), Some("MAILER-DAEMON@mx.example.test"));
    assert_eq!(message.to().and_then(|a| a.first()).and_then(|a| a.address.as_deref()), Some("alice@example.test"));
    assert_eq!(message.header_raw("Auto-Submitted").map(str::trim), Some("auto-replied"));
    assert!(message.date().is_some());
    let id = message.message_id().expect("Message-ID");
    assert!(id.ends_with("@mx.example.test"), "{id}");
    assert_eq!(message.header_raw("In-Reply-To").map(str::trim), Some("<q2-report@example.test>"));

    let parts = report_parts(&dsn);
    let types: Vec<&str> = parts.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["text/plain", "message/delivery-status", "text/rfc822-headers"]);

    // 1. The explanation, English then Russian, naming each recipient and reason.
    let text = String::from_utf8(parts[0].1.clone()).expect("utf-8");
    let english = text.find("This is the mail server at mx.example.test.").expect("English text");
    let russian = text.find("Это почтовый сервер mx.example.test.").expect("Russian text");
    assert!(english < russian);
    assert!(text.contains("could not be delivered") && text.contains("не удалось доставить"));
    assert!(text.contains("<bob@elsewhere.test>") && text.contains("User unknown"));
    assert!(text.contains("<carol@nowhere.test>") && text.contains("null MX"));
    assert!(text.contains("Reported by: mx1.elsewhere.test"));
    assert!(text.contains("postmaster@example.test") && text.contains("Q7F3A9"));

    // 2. The machine-readable report.
    let groups = status_groups(&parts[1].1);
    assert_eq!(groups.len(), 3, "{groups:?}");
    assert_eq!(get(&groups[0], "Reporting-MTA"), Some("dns; mx.example.test"));
    assert_eq!(get(&groups[0], "X-Mailroom-Queue-ID"), Some("Q7F3A9"));
    let arrival = get(&groups[0], "Arrival-Date").expect("Arrival-Date");
    assert_eq!(DateTime::parse_from_rfc2822(arrival).ok().map(|d| d.to_utc()), Some(at(3, 9)));

    let bob = &groups[1];
    assert_eq!(get(bob, "Final-Recipient"), Some("rfc822; bob@elsewhere.test"));
    assert_eq!(get(bob, "Action"), Some("failed"));
    assert_eq!(get(bob, "Status"), Some("5.1.1"));
    assert_eq!(get(bob, "Remote-MTA"), Some("dns; mx1.elsewhere.test"));
    assert_eq!(
        get(bob, "Diagnostic-Code"),
        Some("smtp; 550 5.1.1 <bob@elsewhere.test>: Recipient address rejected: User unknown")
    );
    let last = get(bob, "Last-Attempt-Date").expect("Last-Attempt-Date");
    assert_eq!(DateTime::parse_from_rfc2822(last).ok().map(|d| d.to_utc()), Some(at(3, 10)));
    assert_eq!(get(bob, "Will-Retry-Until"), None);

    let carol = &groups[2];
    assert_eq!(get(carol, "Final-Recipient"), Some("rfc822; carol@nowhere.test"));
    assert_eq!(get(carol, "Status"), Some("5.4.4"));
    assert_eq!(get(carol, "Remote-MTA"), None, "no remote server answered");
    assert_eq!(
        get(carol, "Diagnostic-Code"),
        Some("x-mailroom; no mail server accepts mail for nowhere.test (null MX)")
    );

    // 3. The original headers, and nothing of the body.
    let headers = String::from_utf8(parts[2].1.clone()).expect("utf-8");
    assert!(headers.contains("Subject: Quarterly numbers"));
    assert!(headers.contains("Message-ID: <q2-report@example.test>"));
    assert!(!headers.contains("BODY-SECRET-LINE"));
    assert!(!String::from_utf8_lossy(&dsn).contains("BODY-SECRET-LINE"), "the body never appears anywhere");
}

#[test]
fn delay_warning_says_it_is_still_trying() {
    let recipients = vec![DsnRecipient {
        recipient: "bob@elsewhere.test".into(),
        status: "4.4.1".into(),
        diagnostic: "connection to mx1.elsewhere.test timed out".into(),
        remote_mta: Some("mx1.elsewhere.test".into()),
        last_attempt: at(3, 14),
        will_retry_until: Some(at(8, 9)),
    }];
    let dsn = build(&input(DsnKind::Delay, ORIGINAL, &recipients));
    assert_well_formed(&dsn);
    let message = MessageParser::default().parse(&dsn).expect("parses");
    assert_eq!(message.subject(), Some("Delayed Mail (still being retried)"));

    let parts = report_parts(&dsn);
    let text = String::from_utf8(parts[0].1.clone()).expect("utf-8");
    assert!(text.contains("has not been delivered yet") && text.contains("keep trying"));
    assert!(text.contains("пока не доставлено"));
    assert!(text.contains("Trying until: 2024-06-08 09:00 UTC"));
    assert!(text.contains("Попытки до: 2024-06-08 09:00 UTC"));

    let groups = status_groups(&parts[1].1);
    let bob = &groups[1];
    assert_eq!(get(bob, "Action"), Some("delayed"));
    assert_eq!(get(bob, "Status"), Some("4.4.1"));
    assert_eq!(get(bob, "Diagnostic-Code"), Some("x-mailroom; connection to mx1.elsewhere.test timed out"));
    let until = get(bob, "Will-Retry-Until").expect("Will-Retry-Until");
    assert_eq!(DateTime::parse_from_rfc2822(until).ok().map(|d| d.to_utc()), Some(at(8, 9)));
}

#[test]
fn a_report_is_recognised_as_automatic_so_it_is_never_bounced() {
    let recipients = failed_recipients();
    for kind in [DsnKind::Failure, DsnKind::Delay] {
        assert!(is_auto_generated(&build(&input(kind, ORIGINAL, &recipients))));
    }
    assert!(!is_auto_generated(ORIGINAL));
}

#[test]
fn long_multiline_diagnostics_are_folded_and_cut() {
    let diagnostic = format!(
        "550-5.7.1 {}\r\n550-5.7.1 {}\r\n550 5.7.1 {}",
        "This message was rejected by policy. ".repeat(30),
        "x".repeat(1500),
        "Contact your administrator ".repeat(200)
    );
    let recipients = vec![DsnRecipient { diagnostic, ..failed_recipients().remove(0) }];
    let dsn = build(&input(DsnKind::Failure, ORIGINAL, &recipients));
    assert_well_formed(&dsn);

    let parts = report_parts(&dsn);
    let groups = status_groups(&parts[1].1);
    let code = get(&groups[1], "Diagnostic-Code").expect("Diagnostic-Code");
    assert!(code.starts_with("smtp; 550-5.7.1 This message was rejected by policy."), "{code}");
    assert!(code.len() < 2200, "cut to a sane length: {}", code.len());
    assert!(code.ends_with("..."));
}

#[test]
fn odd_originals_are_reported_safely() {
    let recipients = failed_recipients();

    // Bare LF line endings, UTF-8 headers, an over-long header line, a stray CR and NUL, no body.
    let mut original =
        b"From: =?utf-8?q?Dmitri?= <dima@example.test>\nSubject: \xd0\x9e\xd1\x82\xd1\x87\xd1\x91\xd1\x82\n".to_vec();
    original.extend_from_slice(b"X-Long: ");
    original.extend_from_slice("ж".repeat(800).as_bytes());
    original.extend_from_slice(b"\nX-Odd: a\rb\0c\n");
    let dsn = build(&input(DsnKind::Failure, &original, &recipients));
    assert_well_formed(&dsn);
    let text = String::from_utf8(dsn.clone()).expect("a cut line still is valid UTF-8");
    assert!(text.contains("Content-Transfer-Encoding: 8bit\r\nContent-Description: Headers"));
    let parts = report_parts(&dsn);
    let headers = String::from_utf8(parts[2].1.clone()).expect("utf-8");
    assert!(headers.contains("Subject: Отчёт"));
    assert!(headers.contains("X-Odd: a b c"));

    // Not a message at all.
    let dsn = build(&input(DsnKind::Failure, b"", &recipients));
    assert_well_formed(&dsn);
    assert_eq!(report_parts(&dsn).len(), 3);
}

#[test]
fn hostile_inputs_cannot_inject_headers() {
    let recipients = failed_recipients();
    let mut i = input(DsnKind::Failure, ORIGINAL, &recipients);
    i.original_sender = "alice@example.test>\r\nBcc: victim@elsewhere.test";
    i.reporting_mta = "mx.example.test\r\nX-Evil: 1";
    let dsn = build(&i);
    assert_well_formed(&dsn);
    let message = MessageParser::default().parse(&dsn).expect("parses");
    assert!(message.header_raw("Bcc").is_none());
    assert!(message.header_raw("X-Evil").is_none());

    // A sender address that cannot appear in an ASCII header still gets a valid message.
    i.original_sender = "дима@пример.test";
    let dsn = build(&i);
    assert_well_formed(&dsn);
    assert_eq!(report_parts(&dsn).len(), 3);
}

#[test]
fn utf8_recipients_stay_7bit_in_the_report() {
    let recipients =
        vec![DsnRecipient { recipient: "дима@пример.test".into(), ..failed_recipients().remove(0) }];
    let dsn = build(&input(DsnKind::Failure, ORIGINAL, &recipients));
    assert_well_formed(&dsn);
    let parts = report_parts(&dsn);
    let groups = status_groups(&parts[1].1);
    let final_recipient = get(&groups[1], "Final-Recipient").expect("Final-Recipient");
    assert!(final_recipient.starts_with("utf-8; \\x{434}"), "{final_recipient}");
    let text = String::from_utf8(parts[0].1.clone()).expect("utf-8");
    assert!(text.contains("<дима@пример.test>"), "people read the address as written");
}

//! Delivery reports built from a remote server's reply and the original
//! message (both hostile), and `is_auto_generated` on the original message.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use mailroom_outbound::dsn::{DsnInput, DsnKind, DsnRecipient, build, is_auto_generated};

fuzz_target!(|data: &[u8]| {
    // Split: reply text | recipient | original message, at the first two NULs.
    let mut parts = data.splitn(3, |&b| b == 0);
    let diagnostic = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let recipient = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let original = parts.next().unwrap_or_default();
    let _ = is_auto_generated(original);
    let Some(when) = Utc.timestamp_opt(1_700_000_000, 0).single() else { return };
    let recipients = [DsnRecipient {
        recipient,
        status: "5.1.1".into(),
        diagnostic,
        remote_mta: Some("mx.example.test".into()),
        last_attempt: when,
        will_retry_until: Some(when),
    }];
    for kind in [DsnKind::Failure, DsnKind::Delay] {
        let input = DsnInput {
            kind,
            reporting_mta: "mail.example.test",
            postmaster: "postmaster@example.test",
            original_sender: "alice@example.test",
            original_message: original,
            arrival_date: when,
            queue_id: "q1",
            recipients: &recipients,
        };
        let report = build(&input);
        // Bounded: the fixed text, the capped diagnostic, at most 64 KiB of original headers.
        assert!(report.len() <= 32 * 1024 + 4 * data.len().min(70_000), "{}", report.len());
        // RFC 5322: no line over 998 octets.
        for line in report.split(|&b| b == b'\n') {
            assert!(line.len() <= 999, "line of {} octets", line.len());
        }
        // A report is itself automatic, so it can never cause another one.
        assert!(is_auto_generated(&report));
    }
});

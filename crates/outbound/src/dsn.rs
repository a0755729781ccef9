//! Delivery status notifications (RFC 3464): the "your message could not be delivered" mail, and the
//! "still trying" warning, sent back to the envelope sender.
//!
//! A DSN is a `multipart/report; report-type=delivery-status` message (RFC 6522) with three parts:
//!
//! 1. a plain-language explanation for the person, in English and then Russian;
//! 2. `message/delivery-status`, the machine-readable report: one block about the message, then one
//!    block per recipient (status code, remote server, its reply, dates);
//! 3. `text/rfc822-headers`, the header section of the original message, so the sender can tell which
//!    message this was. Never the body: a bounce must not turn us into a relay for its content.
//!
//! [`is_auto_generated`] recognises bounces and auto-replies, so the engine never bounces a bounce and
//! two servers cannot ping-pong reports forever (RFC 3834, RFC 5321 section 6.2).
//!
//! Everything here is pure: bytes and dates in, bytes out. The engine decides when to send a DSN and
//! delivers it with an empty envelope sender.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

/// RFC 5322 hard limit for a line, without its CRLF.
const MAX_LINE: usize = 998;
/// Where we fold header fields and wrap text when we can.
const SOFT_LINE: usize = 76;
/// Longest diagnostic we repeat; SMTP replies longer than this are noise.
const MAX_DIAGNOSTIC: usize = 2000;
/// Most of the original header section we return. RFC 5321 servers accept far less than this anyway.
const MAX_ORIGINAL_HEADERS: usize = 64 * 1024;

/// Which report this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnKind {
    /// Delivery failed permanently (or retries ran out): `Action: failed`.
    Failure,
    /// Delivery is late but still being retried: `Action: delayed`.
    Delay,
}

/// What happened to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnRecipient {
    /// The recipient address as given in RCPT TO.
    pub recipient: String,
    /// Enhanced status code (RFC 3463), e.g. `5.1.1`.
    pub status: String,
    /// The remote server's reply (`550 5.1.1 <bob@example.test>: user unknown`) or our own reason
    /// (`no mail server accepts mail for example.test`).
    pub diagnostic: String,
    /// The host that gave the reply, when one did.
    pub remote_mta: Option<String>,
    /// When we last tried.
    pub last_attempt: DateTime<Utc>,
    /// For delays: when we will give up.
    pub will_retry_until: Option<DateTime<Utc>>,
}

/// Everything a report needs.
#[derive(Clone, Copy)]
pub struct DsnInput<'a> {
    /// Failure or delay.
    pub kind: DsnKind,
    /// Our host name (From: MAILER-DAEMON@…, Reporting-MTA, Message-ID).
    pub reporting_mta: &'a str,
    /// Address people can write to for help, e.g. `postmaster@example.test`.
    pub postmaster: &'a str,
    /// The envelope sender of the original message; the report goes to them.
    pub original_sender: &'a str,
    /// The original message as queued; only its header section is used.
    pub original_message: &'a [u8],
    /// When we accepted the original message.
    pub arrival_date: DateTime<Utc>,
    /// Our queue id for the original message, for the postmaster.
    pub queue_id: &'a str,
    /// The recipients this report is about.
    pub recipients: &'a [DsnRecipient],
}

/// Builds the complete report message (RFC 5322, CRLF line endings), ready to queue with an empty
/// envelope sender.
pub fn build(input: &DsnInput<'_>) -> Vec<u8> {
    let host = clean_host(input.reporting_mta);
    let now = Utc::now();

    let text = text_part(input, &host);
    let status = status_part(input, &host);
    let (original, original_8bit) = original_headers(input.original_message);

    // The boundary must not occur in any part. It is random, so this loop runs once in practice.
    let boundary = loop {
        let candidate = format!("=_mailroom_{:032x}", rand::random::<u128>());
        let occurs = |part: &[u8]| part.windows(candidate.len()).any(|w| w == candidate.as_bytes());
        if !occurs(text.as_bytes()) && !occurs(status.as_bytes()) && !occurs(&original) {
            break candidate;
        }
    };

    let mut out = String::with_capacity(4096 + original.len());
    let (subject, action) = match input.kind {
        DsnKind::Failure => ("Undelivered Mail Returned to Sender", "failed"),
        DsnKind::Delay => ("Delayed Mail (still being retried)", "delayed"),
    };
    field(&mut out, "From", &format!("Mail Delivery System <MAILER-DAEMON@{host}>"));
    field(&mut out, "To", &to_value(input.original_sender));
    field(&mut out, "Subject", subject);
    field(&mut out, "Date", &now.to_rfc2822());
    field(&mut out, "Message-ID", &format!("<{}.{:016x}@{host}>", now.format("%Y%m%d%H%M%S"), rand::random::<u64>()));
    if let Some(id) = original_message_id(input.original_message) {
        field(&mut out, "In-Reply-To", &id);
        field(&mut out, "References", &id);
    }
    field(&mut out, "Auto-Submitted", "auto-replied");
    field(&mut out, "MIME-Version", "1.0");
    field(&mut out, "Content-Type", &format!("multipart/report; report-type=delivery-status; boundary=\"{boundary}\""));
    out.push_str("\r\nThis is a MIME-encapsulated delivery status notification.\r\n");

    let _ = write!(
        out,
        "\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\
         Content-Description: Notification\r\n\r\n{text}"
    );
    let _ = write!(
        out,
        "\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\nContent-Description: Delivery report\r\n\r\n{status}"
    );
    let _ = write!(
        out,
        "\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: {}\r\n\
         Content-Description: Headers of the undelivered message\r\n\r\n",
        if original_8bit { "8bit" } else { "7bit" }
    );
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&original);
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());

    tracing::debug!(
        queue_id = input.queue_id,
        action,
        recipients = input.recipients.len(),
        bytes = bytes.len(),
        "built delivery status notification"
    );
    bytes
}

/// Whether a bounce or delay warning about `message` may be sent to its envelope `sender`: never to
/// the null sender (RFC 5321 section 4.5.5), never about mail that [`is_auto_generated`] (RFC 3834: an
/// auto-reply's or a report's sender is a robot, or a forged address that would receive backscatter).
/// A mailing-list message is not automatic: its failed deliveries go back to the list's envelope sender.
pub fn may_report(sender: &str, message: &[u8]) -> bool {
    !sender.is_empty() && !is_auto_generated(message)
}

/// True if `message`'s headers mark it as a bounce or an automatic reply, so that it must not itself
/// cause a bounce or a delay warning.
///
/// Any of these counts: `Auto-Submitted` other than `no` (RFC 3834); a `multipart/report` body (RFC
/// 6522: delivery reports, read receipts, feedback reports); `Return-Path: <>` (it was delivered with
/// the null sender that RFC 5321 reserves for reports); a From of `MAILER-DAEMON`; and the legacy
/// auto-responder markers `X-Autoreply`, `X-Autorespond`, `Precedence: auto_reply` and
/// `X-Failed-Recipients`. Mailing-list markers (`Precedence: list/bulk`, `List-Id`) do not count: list
/// servers want their bounces.
pub fn is_auto_generated(message: &[u8]) -> bool {
    header_fields(message).iter().any(|(name, value)| {
        let value = value.trim().to_ascii_lowercase();
        match name.to_ascii_lowercase().as_str() {
            "auto-submitted" => strip_comments(&value).split(';').next().is_some_and(|v| v.trim() != "no"),
            "content-type" => strip_comments(&value).split(';').next().is_some_and(|t| t.trim() == "multipart/report"),
            "return-path" => strip_comments(&value).replace(char::is_whitespace, "") == "<>",
            "from" => from_local_part(&value) == "mailer-daemon",
            "x-autoreply" | "x-autorespond" | "x-failed-recipients" => true,
            "precedence" => value == "auto_reply",
            _ => false,
        }
    })
}

/// The local part of the address in a From value: inside `<...>` if present, else the whole value.
fn from_local_part(value: &str) -> &str {
    let addr = match (value.rfind('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => &value[open + 1..close],
        _ => value,
    };
    addr.rsplit_once('@').map_or(addr, |(local, _)| local).trim().trim_matches('"')
}

/// Part 1: what happened, for a person, in English and then in Russian.
fn text_part(input: &DsnInput<'_>, host: &str) -> String {
    let failed = input.kind == DsnKind::Failure;
    let mut t = String::new();
    let arrived = human_date(input.arrival_date);
    let postmaster = printable(input.postmaster, 200);
    let queue_id = printable(input.queue_id, 200);

    t.push_str(&format!("This is the mail server at {host}.\r\n\r\n"));
    let intro = if failed {
        "Your message could not be delivered to one or more recipients. The server has stopped trying, so \
         the message will not be sent to them. The reason for each recipient is given below."
    } else {
        "Your message has not been delivered yet to one or more recipients. There is no need to send it \
         again: the server will keep trying until the time shown for each recipient below, and will let \
         you know if it finally gives up."
    };
    push_wrapped(&mut t, intro, "");
    t.push_str("\r\n");
    for r in input.recipients {
        recipient_block(&mut t, r, ["Reason", "Reported by", "Trying until"]);
    }
    push_wrapped(
        &mut t,
        &format!(
            "The message was sent on {arrived}. Its headers are attached so you can tell which message this \
             is. If you need help, write to {postmaster} and quote the reference {queue_id}."
        ),
        "",
    );

    t.push_str("\r\n* * *\r\n\r\n");

    t.push_str(&format!("Это почтовый сервер {host}.\r\n\r\n"));
    let intro = if failed {
        "Ваше письмо не удалось доставить одному или нескольким получателям. Сервер прекратил попытки, \
         и этим получателям письмо отправлено не будет. Причина для каждого из них указана ниже."
    } else {
        "Ваше письмо пока не доставлено одному или нескольким получателям. Отправлять его повторно не \
         нужно: сервер будет пытаться доставить его до срока, указанного ниже для каждого получателя, и \
         сообщит вам, если письмо так и не удастся доставить."
    };
    push_wrapped(&mut t, intro, "");
    t.push_str("\r\n");
    for r in input.recipients {
        recipient_block(&mut t, r, ["Причина", "Ответил сервер", "Попытки до"]);
    }
    push_wrapped(
        &mut t,
        &format!(
            "Письмо было отправлено {arrived}. Заголовки письма приложены, чтобы вы могли понять, о каком \
             письме идёт речь. Если нужна помощь, напишите по адресу {postmaster} и укажите номер {queue_id}."
        ),
        "",
    );
    t
}

/// One recipient in the text part: address, reason, server and (for delays) the deadline.
fn recipient_block(t: &mut String, r: &DsnRecipient, [reason, server, until]: [&str; 3]) {
    push_wrapped(t, &format!("<{}>", printable(&r.recipient, 500)), "  ");
    push_wrapped(t, &format!("{reason}: {}", printable(&r.diagnostic, MAX_DIAGNOSTIC)), "    ");
    if let Some(mta) = &r.remote_mta {
        push_wrapped(t, &format!("{server}: {}", printable(mta, 255)), "    ");
    }
    if let Some(deadline) = r.will_retry_until {
        t.push_str(&format!("    {until}: {}\r\n", human_date(deadline)));
    }
    t.push_str("\r\n");
}

/// Part 2: the `message/delivery-status` body (RFC 3464 section 2). Seven-bit ASCII by definition.
fn status_part(input: &DsnInput<'_>, host: &str) -> String {
    let mut s = String::new();
    field(&mut s, "Reporting-MTA", &format!("dns; {host}"));
    field(&mut s, "X-Mailroom-Queue-ID", &ascii(input.queue_id, 200));
    field(&mut s, "Arrival-Date", &input.arrival_date.to_rfc2822());
    for r in input.recipients {
        s.push_str("\r\n");
        field(&mut s, "Final-Recipient", &address_type_and_value(&r.recipient));
        field(&mut s, "Action", if input.kind == DsnKind::Failure { "failed" } else { "delayed" });
        field(&mut s, "Status", &status_code(&r.status, input.kind));
        if let Some(mta) = &r.remote_mta {
            field(&mut s, "Remote-MTA", &format!("dns; {}", clean_host(mta)));
        }
        let diagnostic = ascii(&r.diagnostic, MAX_DIAGNOSTIC);
        // An SMTP reply starts with its three-digit code; anything else is our own explanation.
        let is_smtp = diagnostic.len() >= 3 && diagnostic.as_bytes()[..3].iter().all(u8::is_ascii_digit);
        field(&mut s, "Diagnostic-Code", &format!("{}; {diagnostic}", if is_smtp { "smtp" } else { "x-mailroom" }));
        field(&mut s, "Last-Attempt-Date", &r.last_attempt.to_rfc2822());
        if input.kind == DsnKind::Delay
            && let Some(until) = r.will_retry_until
        {
            field(&mut s, "Will-Retry-Until", &until.to_rfc2822());
        }
    }
    s
}

/// Part 3: the original header section, CRLF line endings, each line cut to the RFC 5322 limit.
/// Returns the bytes and whether any are 8-bit (UTF-8 headers of an SMTPUTF8 message).
fn original_headers(message: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(message.len().min(8192));
    for line in header_lines(message) {
        if out.len() + line.len() > MAX_ORIGINAL_HEADERS {
            break;
        }
        // Cut over-long lines, backing off so as not to split a UTF-8 sequence.
        let mut end = line.len().min(MAX_LINE);
        while end < line.len() && end > 0 && (line[end] & 0xC0) == 0x80 {
            end -= 1;
        }
        // A stray CR or NUL inside a line would be illegal on the wire.
        out.extend(line[..end].iter().map(|&b| if b == b'\r' || b == 0 { b' ' } else { b }));
        out.extend_from_slice(b"\r\n");
    }
    let eight_bit = !out.is_ascii();
    (out, eight_bit)
}

/// The lines of the header section (up to the first empty line, or all of a body-less message),
/// without their line endings. Bare LF is accepted as a line ending.
fn header_lines(message: &[u8]) -> impl Iterator<Item = &[u8]> {
    message.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).take_while(|l| !l.is_empty())
}

/// Header fields as (name, unfolded value). Lines that are not fields are skipped.
fn header_fields(message: &[u8]) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in header_lines(message) {
        let line = String::from_utf8_lossy(line);
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push_str(&line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim_end().to_owned(), value.to_owned()));
        }
    }
    fields
}

/// The original's Message-ID, if it is a clean `<id>` we can repeat in In-Reply-To.
fn original_message_id(message: &[u8]) -> Option<String> {
    let (_, value) = header_fields(message).into_iter().find(|(n, _)| n.eq_ignore_ascii_case("message-id"))?;
    let id = value.trim();
    let clean = id.len() <= 900
        && id.starts_with('<')
        && id.ends_with('>')
        && id.bytes().all(|b| b.is_ascii_graphic())
        && id.matches('<').count() == 1;
    clean.then(|| id.to_owned())
}

/// The `To:` value: the sender's address if it can appear in an ASCII header, else a group with no
/// members (the envelope still carries the address; the text part names it).
fn to_value(sender: &str) -> String {
    let addr: String = sender.chars().filter(|c| !c.is_control() && !c.is_whitespace() && !"<>".contains(*c)).collect();
    if addr.is_empty() || !addr.is_ascii() || addr.len() > 900 {
        "undisclosed-recipients:;".to_owned()
    } else {
        format!("<{addr}>")
    }
}

/// `rfc822; addr` for ASCII addresses. A UTF-8 address uses the `utf-8` type with non-ASCII and the
/// characters xtext reserves written as `\x{HEX}` (RFC 6533 section 3), keeping the part 7-bit.
fn address_type_and_value(addr: &str) -> String {
    let addr = addr.trim();
    if addr.is_ascii() && addr.bytes().all(|b| b.is_ascii_graphic()) {
        return format!("rfc822; {addr}");
    }
    let mut out = String::from("utf-8; ");
    for c in addr.chars() {
        if c.is_ascii_graphic() && !"+=\\".contains(c) {
            out.push(c);
        } else {
            let _ = write!(out, "\\x{{{:X}}}", u32::from(c));
        }
    }
    out
}

/// The `Status:` value: the recipient's RFC 3463 code with the class of this report, or a generic one
/// if the code is malformed.
fn status_code(status: &str, kind: DsnKind) -> String {
    let status = status.trim();
    let parts: Vec<&str> = status.split('.').collect();
    let well_formed = parts.len() == 3
        && parts.iter().all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
        && matches!(parts[0], "2" | "4" | "5");
    // The class follows the report: a failure is permanent (5), a delay temporary (4). A recipient
    // whose temporary errors outlived the retry period fails with its last code's detail, e.g. 4.4.1
    // becomes 5.4.1.
    let class = match kind {
        DsnKind::Failure => "5",
        DsnKind::Delay => "4",
    };
    if well_formed { format!("{class}.{}.{}", parts[1], parts[2]) } else { format!("{class}.0.0") }
}

/// A host name for `dns;` fields and the From address: letters, digits and `.-_[]:` only.
fn clean_host(host: &str) -> String {
    let h: String =
        host.trim().chars().filter(|c| c.is_ascii_alphanumeric() || ".-_[]:".contains(*c)).take(255).collect();
    if h.is_empty() { "localhost".to_owned() } else { h }
}

/// Text for the human part: control characters (including CR and LF of multi-line replies) become
/// spaces, runs of whitespace collapse, and the result is cut at `max` characters.
fn printable(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for (n, word) in s.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).enumerate() {
        if n > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.chars().count() > max {
        out = out.chars().take(max).collect::<String>() + "...";
    }
    out
}

/// Like [`printable`], but 7-bit: other characters become `?`.
fn ascii(s: &str, max: usize) -> String {
    printable(s, max).chars().map(|c| if c.is_ascii() { c } else { '?' }).collect()
}

/// Appends a header field (or a delivery-status field, same syntax) as `name: value` CRLF, folded at
/// spaces to stay near 76 columns; a word too long for any line is split so no line passes 998 octets.
fn field(out: &mut String, name: &str, value: &str) {
    let mut line_len = name.len() + 1;
    out.push_str(name);
    out.push(':');
    for word in value.split(' ').filter(|w| !w.is_empty()) {
        let mut word = word;
        if line_len + 1 + word.len() > SOFT_LINE && line_len > name.len() + 1 {
            out.push_str("\r\n");
            line_len = 0;
        }
        // Split words that cannot fit even on a line of their own.
        while line_len + 1 + word.len() > MAX_LINE {
            let cut = floor_char_boundary(word, MAX_LINE - line_len - 1);
            if cut == 0 {
                break;
            }
            out.push(' ');
            out.push_str(&word[..cut]);
            out.push_str("\r\n");
            line_len = 0;
            word = &word[cut..];
        }
        out.push(' ');
        out.push_str(word);
        line_len += 1 + word.len();
    }
    out.push_str("\r\n");
}

/// Appends `text` wrapped at 76 characters, each line starting with `indent`.
fn push_wrapped(out: &mut String, text: &str, indent: &str) {
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word = word;
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > SOFT_LINE - indent.len() {
            out.push_str(indent);
            out.push_str(&line);
            out.push_str("\r\n");
            line.clear();
        }
        // A single "word" longer than a line (a long token in a reply) is split.
        while word.chars().count() > SOFT_LINE - indent.len() {
            let cut = word.char_indices().nth(SOFT_LINE - indent.len()).map_or(word.len(), |(i, _)| i);
            if !line.is_empty() {
                out.push_str(indent);
                out.push_str(&line);
                out.push_str("\r\n");
                line.clear();
            }
            out.push_str(indent);
            out.push_str(&word[..cut]);
            out.push_str("\r\n");
            word = &word[cut..];
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(indent);
        out.push_str(&line);
        out.push_str("\r\n");
    }
}

/// Dates in the human part: unambiguous in both languages.
fn human_date(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Removes RFC 5322 comments (`(...)`, not nested) from a header value.
fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    for c in value.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The largest index `<= i` that is a char boundary of `s`.
fn floor_char_boundary(s: &str, i: usize) -> usize {
    (0..=i.min(s.len())).rev().find(|&j| s.is_char_boundary(j)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_submitted_other_than_no_is_automatic() {
        assert!(is_auto_generated(b"Auto-Submitted: auto-replied\r\nSubject: x\r\n\r\nbody"));
        assert!(is_auto_generated(b"auto-submitted:  Auto-Generated (vacation)\r\n\r\n"));
        assert!(is_auto_generated(b"Auto-Submitted: auto-notified; owner-email=\"a@b\"\r\n\r\n"));
        assert!(!is_auto_generated(b"Auto-Submitted: no\r\n\r\n"));
        assert!(!is_auto_generated(b"Auto-Submitted: No (a person wrote this)\r\n\r\n"));
    }

    #[test]
    fn reports_are_automatic() {
        assert!(is_auto_generated(
            b"Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"x\"\r\n\r\n"
        ));
        assert!(is_auto_generated(b"Content-Type: Multipart/Report;\r\n report-type=disposition-notification\r\n\r\n"));
        assert!(!is_auto_generated(b"Content-Type: multipart/mixed; boundary=report\r\n\r\n"));
    }

    #[test]
    fn null_return_path_and_mailer_daemon_are_automatic() {
        assert!(is_auto_generated(b"Return-Path: <>\r\n\r\n"));
        assert!(is_auto_generated(b"Return-Path: < >\r\n\r\n"));
        assert!(!is_auto_generated(b"Return-Path: <alice@example.test>\r\n\r\n"));
        assert!(is_auto_generated(b"From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\n\r\n"));
        assert!(is_auto_generated(b"From: mailer-daemon@mx.example.test\r\n\r\n"));
        assert!(!is_auto_generated(b"From: \"mailer-daemon@x\" <alice@example.test>\r\n\r\n"));
        assert!(!is_auto_generated(b"From: not-mailer-daemon@example.test\r\n\r\n"));
        assert!(is_auto_generated(b"X-Autoreply: yes\r\n\r\n"));
        assert!(is_auto_generated(b"Precedence: auto_reply\r\n\r\n"));
    }

    #[test]
    fn ordinary_and_list_mail_is_not_automatic() {
        let msg = b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nPrecedence: list\r\n\
                    List-Id: <talk.example.test>\r\nSubject: Auto-Submitted: yes\r\n\r\nAuto-Submitted: auto-replied\r\n";
        assert!(!is_auto_generated(msg));
        assert!(!is_auto_generated(b""));
        assert!(!is_auto_generated(b"garbage without headers"));
    }

    #[test]
    fn no_report_to_the_null_sender_or_about_automatic_mail() {
        assert!(may_report("alice@example.test", b"Subject: hi\r\n\r\nbody\r\n"));
        assert!(!may_report("", b"Subject: hi\r\n\r\nbody\r\n"));
        assert!(!may_report("alice@example.test", b"Auto-Submitted: auto-replied\r\nSubject: away\r\n\r\nx\r\n"));
        assert!(!may_report("robot@example.test", b"Auto-Submitted: auto-generated\r\n\r\n"));
        // A list message that fails still bounces to the list's envelope sender.
        assert!(may_report("list-bounces@example.test", b"Precedence: list\r\nList-Id: <l.example.test>\r\n\r\nx\r\n"));
    }

    #[test]
    fn a_bounce_quotes_a_bounded_part_of_a_big_message() {
        let mut original = Vec::new();
        for i in 0..2000 {
            original.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "y".repeat(900)).as_bytes());
        }
        original.extend_from_slice(b"Subject: big\r\n\r\n");
        original.extend(std::iter::repeat_n(b'x', 5 << 20));
        let recipients = [DsnRecipient {
            recipient: "bob@remote.test".into(),
            status: "5.0.0".into(),
            diagnostic: "554 refused".into(),
            remote_mta: None,
            last_attempt: Utc::now(),
            will_retry_until: None,
        }];
        let dsn = build(&DsnInput {
            kind: DsnKind::Failure,
            reporting_mta: "mx.example.test",
            postmaster: "postmaster@example.test",
            original_sender: "alice@example.test",
            original_message: &original,
            arrival_date: Utc::now(),
            queue_id: "q1",
            recipients: &recipients,
        });
        assert!(dsn.len() < 100 * 1024, "{} bytes", dsn.len());
        assert!(dsn.windows(10).any(|w| w == b"X-Filler-0"));
    }

    #[test]
    fn header_markers_in_the_body_do_not_count() {
        assert!(!is_auto_generated(b"Subject: hi\n\nAuto-Submitted: auto-replied\nReturn-Path: <>\n"));
    }

    #[test]
    fn status_codes_match_the_report_kind() {
        assert_eq!(status_code("5.1.1", DsnKind::Failure), "5.1.1");
        assert_eq!(status_code("4.4.1", DsnKind::Delay), "4.4.1");
        assert_eq!(status_code("4.4.1", DsnKind::Failure), "5.4.1");
        assert_eq!(status_code("banana", DsnKind::Failure), "5.0.0");
        assert_eq!(status_code("5.1.1", DsnKind::Delay), "4.1.1");
        assert_eq!(status_code("5.1", DsnKind::Failure), "5.0.0");
    }

    #[test]
    fn utf8_addresses_are_encoded_for_the_7bit_report() {
        assert_eq!(address_type_and_value("bob@example.test"), "rfc822; bob@example.test");
        assert_eq!(
            address_type_and_value("дима+x@пример.test"),
            "utf-8; \\x{434}\\x{438}\\x{43C}\\x{430}\\x{2B}x@\\x{43F}\\x{440}\\x{438}\\x{43C}\\x{435}\\x{440}.test"
        );
    }

    #[test]
    fn fields_fold_and_never_exceed_998_octets() {
        let mut out = String::new();
        let long = format!("550 {} {}", "word ".repeat(100), "x".repeat(3000));
        field(&mut out, "Diagnostic-Code", &format!("smtp; {long}"));
        assert!(out.split("\r\n").all(|l| l.len() <= MAX_LINE), "{out}");
        assert!(out.split("\r\n").skip(1).filter(|l| !l.is_empty()).all(|l| l.starts_with(' ')));
        let unfolded = out.replace("\r\n", "");
        assert!(unfolded.contains(&"word ".repeat(20)));
    }

    #[test]
    fn wrapped_text_keeps_short_lines() {
        let mut out = String::new();
        push_wrapped(&mut out, &format!("Причина: {} {}", "слово ".repeat(40), "я".repeat(300)), "    ");
        assert!(out.split("\r\n").all(|l| l.chars().count() <= SOFT_LINE), "{out}");
    }

    #[test]
    fn to_header_is_ascii_or_a_group() {
        assert_eq!(to_value("alice@example.test"), "<alice@example.test>");
        assert_eq!(to_value("alice@example.test>\r\nBcc: x@evil.test"), "<alice@example.testBcc:x@evil.test>");
        assert_eq!(to_value("алиса@пример.test"), "undisclosed-recipients:;");
    }
}

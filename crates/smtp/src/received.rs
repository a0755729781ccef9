//! The `Received:` trace header added to every accepted message (RFC 5321 §4.4).

use std::net::IpAddr;

/// Inputs for one Received header.
pub struct TraceInfo<'a> {
    /// What the client said in EHLO/HELO.
    pub helo: &'a str,
    /// Client address.
    pub ip: IpAddr,
    /// Our host name.
    pub hostname: &'a str,
    /// Protocol keyword: ESMTP, ESMTPS, ESMTPSA, UTF8SMTPS, ... (RFC 3848, RFC 6531).
    pub protocol: &'a str,
    /// Transaction id for log correlation.
    pub id: &'a str,
    /// The recipient, when there is exactly one.
    pub single_rcpt: Option<&'a str>,
}

/// Builds the header, folded, ending in CRLF.
pub fn header(t: &TraceInfo<'_>) -> Vec<u8> {
    let helo: String = t.helo.chars().filter(|c| !c.is_control() && *c != '(' && *c != ')').take(100).collect();
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S +0000");
    let mut h =
        format!("Received: from {helo} ([{}])\r\n\tby {} (Mailroom) with {} id {}", t.ip, t.hostname, t.protocol, t.id);
    if let Some(r) = t.single_rcpt {
        h.push_str(&format!("\r\n\tfor <{r}>"));
    }
    h.push_str(&format!(";\r\n\t{date}\r\n"));
    h.into_bytes()
}

/// Counts `Received:` fields in the header section of `message` (hop count).
pub fn count_hops(message: &[u8]) -> usize {
    let mut n = 0;
    for line in message.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.len() >= 9 && line[..9].eq_ignore_ascii_case(b"received:") {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_shape() {
        let h = header(&TraceInfo {
            helo: "client.test",
            ip: "192.0.2.7".parse().expect("ip"),
            hostname: "mx.example.test",
            protocol: "ESMTPS",
            id: "abc123",
            single_rcpt: Some("bob@example.test"),
        });
        let s = String::from_utf8(h).expect("utf8");
        assert!(s.starts_with("Received: from client.test ([192.0.2.7])\r\n\tby mx.example.test (Mailroom) with ESMTPS id abc123\r\n\tfor <bob@example.test>;\r\n\t"));
        assert!(s.ends_with(" +0000\r\n"));
    }

    #[test]
    fn hops() {
        assert_eq!(count_hops(b"Received: a\r\n\tb\r\nreceived: c\r\nSubject: x\r\n\r\nReceived: body\r\n"), 2);
    }
}

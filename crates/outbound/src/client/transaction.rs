//! One mail transaction (MAIL, RCPT..., DATA, body) as a state machine,
//! sans-IO: it builds the commands and turns each reply into per-recipient
//! outcomes. The session drives it over the socket, pipelined or not.

use crate::{OutboundMessage, RcptOutcome};

use super::ehlo::Capabilities;
use super::reply::Reply;

/// What to do after the reply to DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataStep {
    /// 354 and someone accepted: send the dot-stuffed body.
    SendBody,
    /// 354 although no recipient was accepted (possible with PIPELINING):
    /// end the empty data at once with `.` and ignore the reply.
    SendEnd,
    /// DATA was refused; nothing to send.
    Done,
}

/// State of one message's transaction on one connection.
#[derive(Debug)]
pub struct Transaction<'m> {
    msg: &'m OutboundMessage,
    host: String,
    /// Final word per recipient; `None` while still open.
    outcomes: Vec<Option<RcptOutcome>>,
    /// Recipients RCPT TO is sent for, in order.
    active: Vec<usize>,
    /// Recipients the server accepted with 2xx.
    accepted: Vec<usize>,
    mail_ok: bool,
    delivered: bool,
    size: Option<u64>,
    eightbit: bool,
    smtputf8: bool,
}

impl<'m> Transaction<'m> {
    /// Checks the message against what the server offers and decides which
    /// recipients can be tried at all.
    pub fn new(msg: &'m OutboundMessage, caps: &Capabilities, host: &str) -> Self {
        let n = msg.recipients.len();
        let mut tx = Transaction {
            msg,
            host: host.to_string(),
            outcomes: vec![None; n],
            active: Vec::new(),
            accepted: Vec::new(),
            mail_ok: false,
            delivered: false,
            size: caps.size.map(|_| msg.body.len() as u64),
            eightbit: caps.eightbitmime && msg.body.iter().any(|&b| b >= 0x80),
            smtputf8: false,
        };
        let fail_all = |tx: &mut Self, status: &str, reason: String| {
            for o in tx.outcomes.iter_mut().filter(|o| o.is_none()) {
                *o = Some(failed(host, status, reason.clone()));
            }
        };
        if !clean_address(&msg.sender) {
            fail_all(&mut tx, "5.1.7", format!("the sender address {:?} cannot be sent in SMTP", msg.sender));
            return tx;
        }
        if let Some(limit) = caps.size_limit()
            && msg.body.len() as u64 > limit
        {
            let reason =
                format!("the message is {} bytes, more than the {} bytes {} accepts", msg.body.len(), limit, host);
            fail_all(&mut tx, "5.3.4", reason);
            return tx;
        }
        let sender_utf8 = !msg.sender.is_ascii();
        if sender_utf8 && !caps.smtputf8 {
            let reason = format!("the sender address <{}> needs SMTPUTF8, which {} does not support", msg.sender, host);
            fail_all(&mut tx, "5.6.7", reason);
            return tx;
        }
        tx.smtputf8 = sender_utf8;
        for (i, rcpt) in msg.recipients.iter().enumerate() {
            if !clean_address(rcpt) || rcpt.is_empty() {
                tx.outcomes[i] = Some(failed(host, "5.1.3", format!("the recipient address {rcpt:?} is not valid")));
            } else if !rcpt.is_ascii() && !caps.smtputf8 {
                let reason = format!("the address <{rcpt}> needs SMTPUTF8, which {host} does not support");
                tx.outcomes[i] = Some(failed(host, "5.6.7", reason));
            } else {
                tx.smtputf8 |= !rcpt.is_ascii();
                tx.active.push(i);
            }
        }
        tx
    }

    /// `MAIL FROM:<...> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8]`, or `None` when
    /// no recipient is left to try (nothing is sent for this message).
    pub fn mail_command(&self) -> Option<String> {
        if self.active.is_empty() {
            return None;
        }
        let mut cmd = format!("MAIL FROM:<{}>", self.msg.sender);
        if let Some(size) = self.size {
            cmd.push_str(&format!(" SIZE={size}"));
        }
        if self.eightbit {
            cmd.push_str(" BODY=8BITMIME");
        }
        if self.smtputf8 {
            cmd.push_str(" SMTPUTF8");
        }
        Some(cmd)
    }

    /// One `RCPT TO:<...>` per recipient still in play, in order.
    pub fn rcpt_commands(&self) -> Vec<String> {
        self.active.iter().map(|&i| format!("RCPT TO:<{}>", self.msg.recipients[i])).collect()
    }

    /// Records the reply to MAIL FROM.
    pub fn on_mail(&mut self, reply: &Reply) {
        if reply.is_positive() {
            self.mail_ok = true;
            return;
        }
        let what = format!("{} refused the sender <{}>: {}", self.host, self.msg.sender, reply);
        let outcome = outcome_for(&self.host, reply, what);
        for &i in &self.active {
            self.outcomes[i] = Some(outcome.clone());
        }
    }

    /// Whether MAIL FROM was accepted (without pipelining, RCPT is sent only then).
    pub fn mail_accepted(&self) -> bool {
        self.mail_ok
    }

    /// Records the reply to the `n`th RCPT TO (index into [`Self::rcpt_commands`]).
    pub fn on_rcpt(&mut self, n: usize, reply: &Reply) {
        let Some(&i) = self.active.get(n) else { return };
        if !self.mail_ok {
            // The outcome came from MAIL; a pipelined RCPT reply adds nothing.
            return;
        }
        if reply.is_positive() {
            self.accepted.push(i);
            return;
        }
        let rcpt = &self.msg.recipients[i];
        let what = if reply.is_permanent() {
            format!("{} rejected the recipient <{}>: {}", self.host, rcpt, reply)
        } else {
            format!("{} did not accept the recipient <{}> for now: {}", self.host, rcpt, reply)
        };
        self.outcomes[i] = Some(outcome_for(&self.host, reply, what));
    }

    /// Whether DATA is worth sending (without pipelining).
    pub fn wants_data(&self) -> bool {
        self.mail_ok && !self.accepted.is_empty()
    }

    /// Records the reply to DATA and says what to send next.
    pub fn on_data(&mut self, reply: &Reply) -> DataStep {
        if reply.code == 354 {
            return if self.wants_data() { DataStep::SendBody } else { DataStep::SendEnd };
        }
        if self.wants_data() {
            let what = format!("{} refused the message data: {}", self.host, reply);
            self.settle_accepted(outcome_for(&self.host, reply, what));
        }
        DataStep::Done
    }

    /// Records the reply after the body's final `.`.
    pub fn on_final(&mut self, reply: &Reply) {
        if reply.is_positive() {
            self.delivered = true;
            let outcome = RcptOutcome::Delivered { host: self.host.clone(), reply: reply.to_string() };
            self.settle_accepted(outcome);
            return;
        }
        let what = if reply.is_permanent() {
            format!("{} rejected the message: {}", self.host, reply)
        } else {
            format!("{} did not accept the message for now: {}", self.host, reply)
        };
        self.settle_accepted(outcome_for(&self.host, reply, what));
    }

    fn settle_accepted(&mut self, outcome: RcptOutcome) {
        for &i in &self.accepted {
            if self.outcomes[i].is_none() {
                self.outcomes[i] = Some(outcome.clone());
            }
        }
    }

    /// Whether the transaction ended without delivery and left the server
    /// in a state that needs RSET before the next MAIL.
    pub fn needs_rset(&self) -> bool {
        !self.delivered && !self.active.is_empty()
    }

    /// The outcomes so far; `None` for recipients without a final word
    /// (the session fills those in when the connection breaks).
    pub fn into_outcomes(self) -> Vec<Option<RcptOutcome>> {
        self.outcomes
    }
}

/// Whether an address can go between `<` and `>` without changing the
/// meaning of the command line.
fn clean_address(addr: &str) -> bool {
    !addr.chars().any(|c| c.is_control() || c == '<' || c == '>')
}

fn failed(host: &str, status: &str, reason: String) -> RcptOutcome {
    RcptOutcome::Failed { host: Some(host.to_string()), status: status.to_string(), reason, remote_reply: None }
}

/// 5xx → Failed with the reply's status, anything else that is not 2xx →
/// Deferred (a 3xx where none belongs is a protocol slip, not a verdict).
fn outcome_for(host: &str, reply: &Reply, reason: String) -> RcptOutcome {
    if reply.is_permanent() {
        RcptOutcome::Failed {
            host: Some(host.to_string()),
            status: reply.status(),
            reason,
            remote_reply: Some(reply.to_string()),
        }
    } else {
        RcptOutcome::Deferred { host: Some(host.to_string()), reason }
    }
}

/// The body as it goes on the wire after DATA: lines starting with `.` get
/// another `.`, the last line ends in CRLF, then `.` CRLF ends the data.
pub fn dot_stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    mailroom_transport::push_dot_stuffed(&mut out, body);
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn msg(sender: &str, rcpts: &[&str], body: &[u8]) -> OutboundMessage {
        OutboundMessage {
            id: "q1".into(),
            sender: sender.into(),
            recipients: rcpts.iter().map(|s| s.to_string()).collect(),
            body: Arc::new(body.to_vec()),
        }
    }

    fn reply(code: u16, text: &str) -> Reply {
        let mut p = super::super::reply::ReplyParser::new();
        p.push_line(format!("{code} {text}\r\n").as_bytes()).unwrap().unwrap()
    }

    fn caps() -> Capabilities {
        Capabilities { pipelining: true, size: Some(1000), eightbitmime: true, ..Default::default() }
    }

    #[test]
    fn mail_command_parameters() {
        let m = msg("a@example.org", &["b@example.com"], b"caf\xc3\xa9\r\n");
        let tx = Transaction::new(&m, &caps(), "mx");
        assert_eq!(tx.mail_command().unwrap(), "MAIL FROM:<a@example.org> SIZE=7 BODY=8BITMIME");
        let plain = Capabilities::default();
        let tx = Transaction::new(&m, &plain, "mx");
        assert_eq!(tx.mail_command().unwrap(), "MAIL FROM:<a@example.org>");
        let m = msg("", &["b@example.com"], b"x\r\n");
        let tx = Transaction::new(&m, &plain, "mx");
        assert_eq!(tx.mail_command().unwrap(), "MAIL FROM:<>");
        assert_eq!(tx.rcpt_commands(), vec!["RCPT TO:<b@example.com>"]);
    }

    #[test]
    fn mixed_rcpt_replies() {
        let m = msg("a@x", &["ok@y", "no@y", "later@y"], b"hi\r\n");
        let mut tx = Transaction::new(&m, &caps(), "mx.y");
        tx.on_mail(&reply(250, "2.1.0 ok"));
        tx.on_rcpt(0, &reply(250, "2.1.5 ok"));
        tx.on_rcpt(1, &reply(550, "5.1.1 no such user"));
        tx.on_rcpt(2, &reply(451, "4.7.1 greylisted"));
        assert_eq!(tx.on_data(&reply(354, "go")), DataStep::SendBody);
        tx.on_final(&reply(250, "2.0.0 queued as X"));
        assert!(!tx.needs_rset());
        let out = tx.into_outcomes();
        assert_eq!(out[0], Some(RcptOutcome::Delivered { host: "mx.y".into(), reply: "250 2.0.0 queued as X".into() }));
        assert!(matches!(&out[1], Some(RcptOutcome::Failed { status, .. }) if status == "5.1.1"));
        assert!(matches!(&out[2], Some(RcptOutcome::Deferred { reason, .. }) if reason.contains("greylisted")));
    }

    #[test]
    fn all_rcpts_refused_under_pipelining() {
        let m = msg("a@x", &["no@y"], b"hi\r\n");
        let mut tx = Transaction::new(&m, &caps(), "mx");
        tx.on_mail(&reply(250, "ok"));
        tx.on_rcpt(0, &reply(550, "no"));
        assert!(!tx.wants_data());
        assert_eq!(tx.on_data(&reply(554, "5.5.1 no valid recipients")), DataStep::Done);
        assert!(tx.needs_rset());
        let out = tx.into_outcomes();
        assert!(matches!(&out[0], Some(RcptOutcome::Failed { status, .. }) if status == "5.0.0"));
        // A server that says 354 anyway gets an empty data section.
        let mut tx = Transaction::new(&m, &caps(), "mx");
        tx.on_mail(&reply(250, "ok"));
        tx.on_rcpt(0, &reply(550, "no"));
        assert_eq!(tx.on_data(&reply(354, "go")), DataStep::SendEnd);
    }

    #[test]
    fn mail_refused_settles_everyone() {
        let m = msg("a@x", &["b@y", "c@y"], b"hi\r\n");
        let mut tx = Transaction::new(&m, &caps(), "mx");
        tx.on_mail(&reply(553, "5.7.1 sender rejected"));
        tx.on_rcpt(0, &reply(503, "need MAIL"));
        tx.on_rcpt(1, &reply(503, "need MAIL"));
        assert_eq!(tx.on_data(&reply(503, "need RCPT")), DataStep::Done);
        assert!(tx.needs_rset());
        for o in tx.into_outcomes() {
            assert!(matches!(o, Some(RcptOutcome::Failed { status, .. }) if status == "5.7.1"));
        }
    }

    #[test]
    fn data_rejection_after_body() {
        let m = msg("a@x", &["b@y"], b"hi\r\n");
        let mut tx = Transaction::new(&m, &caps(), "mx");
        tx.on_mail(&reply(250, "ok"));
        tx.on_rcpt(0, &reply(250, "ok"));
        assert_eq!(tx.on_data(&reply(354, "go")), DataStep::SendBody);
        tx.on_final(&reply(552, "5.3.4 too big"));
        assert!(tx.needs_rset());
        assert!(matches!(&tx.into_outcomes()[0], Some(RcptOutcome::Failed { status, .. }) if status == "5.3.4"));
    }

    #[test]
    fn size_limit_fails_without_sending() {
        let m = msg("a@x", &["b@y"], &[b'x'; 2000]);
        let tx = Transaction::new(&m, &caps(), "mx");
        assert_eq!(tx.mail_command(), None);
        assert!(!tx.needs_rset());
        assert!(matches!(&tx.into_outcomes()[0], Some(RcptOutcome::Failed { status, .. }) if status == "5.3.4"));
    }

    #[test]
    fn smtputf8_needed_but_missing() {
        let m = msg("a@x", &["jürgen@y", "b@y"], b"hi\r\n");
        let tx = Transaction::new(&m, &caps(), "mx");
        assert_eq!(tx.rcpt_commands(), vec!["RCPT TO:<b@y>"]);
        let out = tx.into_outcomes();
        assert!(matches!(&out[0], Some(RcptOutcome::Failed { status, .. }) if status == "5.6.7"));
        assert_eq!(out[1], None);

        let m = msg("jürgen@x", &["b@y"], b"hi\r\n");
        let tx = Transaction::new(&m, &caps(), "mx");
        assert_eq!(tx.mail_command(), None);

        let with = Capabilities { smtputf8: true, ..caps() };
        let tx = Transaction::new(&m, &with, "mx");
        assert_eq!(tx.mail_command().unwrap(), "MAIL FROM:<jürgen@x> SIZE=4 SMTPUTF8");
    }

    #[test]
    fn addresses_cannot_inject_commands() {
        let m = msg("a@x", &["b@y>\r\nRCPT TO:<c@z"], b"hi\r\n");
        let tx = Transaction::new(&m, &caps(), "mx");
        assert_eq!(tx.mail_command(), None);
        let m = msg("a@x\r\nRSET", &["b@y"], b"hi\r\n");
        let tx = Transaction::new(&m, &caps(), "mx");
        assert_eq!(tx.mail_command(), None);
    }

    #[test]
    fn dot_stuffing() {
        assert_eq!(dot_stuff(b".hidden\r\nline\r\n..two\r\n"), b"..hidden\r\nline\r\n...two\r\n.\r\n");
        assert_eq!(dot_stuff(b"no newline"), b"no newline\r\n.\r\n");
        assert_eq!(dot_stuff(b"bare lf\n"), b"bare lf\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
        assert_eq!(dot_stuff(b"a\r\n.\r\n"), b"a\r\n..\r\n.\r\n");
        assert_eq!(dot_stuff(b"mid.dot\r\n"), b"mid.dot\r\n.\r\n");
    }
}

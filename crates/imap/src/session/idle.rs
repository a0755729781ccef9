//! IDLE (RFC 2177 / RFC 9051): push changes to the client as they happen
//! until it sends DONE.
//!
//! The session waits on three things at once: the client's DONE, a change
//! notification for the selected folder (from any protocol: SMTP delivery,
//! POP3, another IMAP session), and the idle timeout. A keep-alive
//! `* OK Still here` goes out every two minutes so NAT boxes keep the
//! connection open.

use std::time::Duration;

use mailroom_transport::LineRead;
use tokio::sync::broadcast::error::RecvError;

use super::{Flow, Session};
use crate::backend::ImapBackend;

const KEEPALIVE: Duration = Duration::from_secs(120);

impl<B: ImapBackend> Session<B> {
    pub(super) async fn idle(&mut self, tag: &str) -> Flow {
        self.sync(true).await;
        self.out.extend_from_slice(b"+ idling\r\n");
        if self.flush().await.is_err() {
            return Flow::Close;
        }
        let deadline = tokio::time::Instant::now() + self.cfg.idle_timeout;
        let mut changes = self.changes.take();
        let flow = loop {
            let selected = self.selected.as_ref().map(|s| s.id);
            let keepalive = tokio::time::sleep(KEEPALIVE);
            let event = tokio::select! {
                line = self.conn.read_line(self.cfg.limits.max_line) => Event::Line(line),
                change = async {
                    match changes.as_mut() {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => Event::Change(change),
                _ = keepalive => Event::KeepAlive,
                _ = tokio::time::sleep_until(deadline) => Event::Timeout,
                _ = self.cfg.shutdown.triggered() => Event::Shutdown,
            };
            match event {
                Event::Line(Ok(LineRead::Line(l))) => {
                    let text = String::from_utf8_lossy(&l);
                    if text.trim_end_matches(['\r', '\n']).eq_ignore_ascii_case("DONE") {
                        self.ok(tag, "IDLE terminated");
                    } else {
                        self.bad(Some(tag), "Expected DONE to end IDLE");
                    }
                    break Flow::Continue;
                }
                Event::Line(Ok(LineRead::TooLong(_))) => {
                    self.bad(Some(tag), "Expected DONE to end IDLE");
                    break Flow::Continue;
                }
                Event::Line(_) => break Flow::Close,
                Event::Change(Ok(folder)) if Some(folder) != selected => continue,
                Event::Change(Ok(_)) | Event::Change(Err(RecvError::Lagged(_))) => {
                    self.sync(true).await;
                }
                Event::Change(Err(RecvError::Closed)) => changes = None,
                Event::KeepAlive => self.untagged("OK Still here"),
                Event::Timeout => {
                    self.untagged("BYE Autologout; idle for too long");
                    break Flow::Close;
                }
                Event::Shutdown => {
                    self.untagged("BYE Server shutting down, please reconnect shortly");
                    break Flow::Close;
                }
            }
            if self.closing {
                break Flow::Close;
            }
            if self.flush().await.is_err() {
                break Flow::Close;
            }
        };
        self.changes = changes;
        flow
    }
}

enum Event {
    Line(std::io::Result<LineRead>),
    Change(Result<i64, RecvError>),
    KeepAlive,
    Timeout,
    Shutdown,
}

//! POP3 server for Mailroom (RFC 1939, with CAPA and response codes from RFC 2449,
//! STLS from RFC 2595, SASL `AUTH PLAIN` from RFC 5034 and `[AUTH]`/`[SYS/*]`
//! codes from RFC 3206).
//!
//! POP3 lets a mail client download the messages in an account's INBOX and
//! delete them afterwards. A session moves through three states:
//!
//! 1. **AUTHORIZATION**: the client may ask for capabilities (`CAPA`), upgrade
//!    to TLS (`STLS`) and log in (`USER`/`PASS` or `AUTH PLAIN`).
//! 2. **TRANSACTION**: after a login the account's maildrop is locked and a
//!    snapshot of it is numbered 1..n in UID order. The client lists
//!    (`STAT`, `LIST`, `UIDL`), downloads (`RETR`, `TOP`) and marks messages
//!    for deletion (`DELE`, undone by `RSET`).
//! 3. **UPDATE**: only on `QUIT` are the marked messages really deleted. A
//!    connection that drops or times out deletes nothing.
//!
//! The crate is split the way every Mailroom protocol is:
//!
//! * `command` parses one client line into a `Command` (no I/O);
//! * `session` is the state machine: it takes a line, calls the [`Backend`]
//!   where it needs the store, and returns the bytes to send plus what the
//!   connection must do next (continue, start TLS, close, wait first);
//! * `maildrop` holds the numbered snapshot and deletion marks of a session;
//! * `response` formats replies, including dot-stuffed multi-line bodies;
//! * `server` is the only part that touches a socket: it reads lines from a
//!   [`mailroom_transport::Connection`], feeds the session, writes replies,
//!   upgrades to TLS and applies the idle timeout.
//!
//! The engine implements [`Backend`] over the store and calls [`serve`] once
//! per accepted connection.

mod backend;
#[doc(hidden)]
pub mod command;
mod maildrop;
mod response;
mod server;
mod session;

pub use backend::{AuthOutcome, Backend, DropMessage, Maildrop};
pub use server::{Pop3Config, serve};

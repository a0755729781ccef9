//! SMTP server for Mailroom: MX (port 25) and submission (587 STARTTLS, 465 TLS).
//!
//! The crate is split the sans-IO way:
//!
//! * [`command`] parses one command line into a [`Command`];
//! * [`data`] scans a DATA stream byte by byte (dot-unstuffing, the
//!   CRLF.CRLF terminator, bare CR/LF and NUL detection, size and line limits)
//!   without ever doing I/O;
//! * [`session`] is the state machine: it takes lines and finished message
//!   bodies and returns [`Step`]s (reply, start TLS, read DATA, read a BDAT
//!   chunk, close). It asks a [`Backend`] about recipients, logins and
//!   delivery, so it is unit-tested with a fake one;
//! * [`spool`] holds a message body being received: in memory while small,
//!   in an unnamed file in the store's `messages/tmp/` past a threshold;
//! * [`server`] is the only part that touches a socket: it moves bytes between
//!   a [`mailroom_transport::Connection`] and the session.
//!
//! Policy decided here, in one place: relaying to non-local recipients needs
//! an authenticated session or a trusted client address; AUTH is offered only
//! on submission listeners and only over TLS (unless plaintext is allowed for
//! a trusted network); a logged-in user's message must name only addresses
//! they may send as in its `From:` fields ([`header_from`]); DATA ends only at CRLF.CRLF and any message containing
//! a bare CR or LF is refused with 554 5.6.11 (no SMTP smuggling).

pub mod command;
pub mod data;
pub mod header_from;
mod received;
mod reply;
mod sasl;
pub mod server;
pub mod session;
pub mod spool;

pub use command::Command;
pub use reply::Reply;
pub use server::serve;
pub use session::{
    AuthOutcome, Backend, DeliverError, Envelope, ListenerKind, PeerInfo, RcptCheck, Rejection, Session, SmtpConfig,
    Step,
};
pub use spool::{SpoolBody, SpoolConfig};

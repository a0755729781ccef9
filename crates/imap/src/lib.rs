//! IMAP4rev1 (RFC 3501) and IMAP4rev2 (RFC 9051) server for Mailroom.
//!
//! Layers, from the wire inwards:
//!
//! * [`framing`] reads one whole command (line plus literals) with hard size
//!   limits; [`parse`] turns it into a [`types::Command`].
//! * `session` runs the protocol state machine over a
//!   [`mailroom_transport::Connection`] and the shared
//!   [`mailroom_store::Store`]; [`mime`] renders ENVELOPE, BODYSTRUCTURE and
//!   body sections; [`query`] evaluates SEARCH, SORT and THREAD.
//! * [`backend::ImapBackend`] is what the engine provides: logins, session
//!   limits, the store and change notifications.
//!
//! One store serves every protocol: a message delivered over SMTP, appended
//! over IMAP or deleted over POP3 is the same row, and every session learns
//! of changes through MODSEQ, whichever protocol made them.

pub mod backend;
pub mod config;
pub mod framing;
pub mod mime;
pub mod mutf7;
pub mod parse;
pub mod query;
mod session;
pub mod spool;
pub mod types;
pub mod wire;

pub use backend::{AuthOutcome, ImapBackend};
pub use config::ImapConfig;
pub use framing::Limits;
pub use session::serve;

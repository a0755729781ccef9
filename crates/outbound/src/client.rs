//! The SMTP client that hands mail to another server.
//!
//! * [`reply`]: reply parsing with hard limits (sans-IO);
//! * [`ehlo`]: EHLO keywords and the mail-loop check (sans-IO);
//! * [`transaction`]: MAIL/RCPT/DATA as a state machine that turns replies
//!   into per-recipient outcomes, and dot-stuffing (sans-IO);
//! * [`tls`]: rustls client settings per [`crate::TlsPolicy`];
//! * [`conn`]: the socket with a bounded reply reader and TLS upgrade;
//! * [`session`]: one connection from greeting to QUIT, carrying several
//!   messages.

pub mod conn;
pub mod ehlo;
pub mod reply;
pub mod session;
pub mod tls;
pub mod transaction;

pub use ehlo::Capabilities;
pub use reply::Reply;
pub use session::{SessionReport, Target, run_session, run_session_with};

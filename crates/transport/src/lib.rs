//! Byte-moving layer shared by every Mailroom protocol listener.
//!
//! The protocol crates (`mailroom-smtp`, `mailroom-pop3`, later IMAP) keep their
//! parsers and session state machines free of I/O. This crate is where bytes meet
//! sockets:
//!
//! * [`Connection`] wraps a TCP stream that may be upgraded to TLS in place
//!   (STARTTLS / STLS), reads lines and fixed-size chunks with hard limits so no
//!   client can make a session buffer more than it allows, and applies the read
//!   timeout.
//! * [`tls`] loads the server certificate from the data directory (creating a
//!   self-signed one on first start), checks imported ones, writes them as a
//!   pair, and lets the running server swap the certificate new handshakes get.
//! * [`NetSet`] answers "is this peer in one of these CIDR ranges" (trusted
//!   networks).
//! * [`Shutdown`] tells idle sessions that the server is stopping.
//! * [`AuthThrottle`] counts failed logins per client IP across all protocols and
//!   says how long to delay the answer, or to refuse outright.
//!
//! Invariant: memory held for one connection is bounded by the limits its caller
//! passes, whatever the peer sends.

mod blocking;
mod conn;
mod deflate;
mod dotstuff;
mod netset;
mod shutdown;
mod throttle;
pub mod tls;

pub use blocking::blocking;
pub use conn::{Connection, LineRead};
pub use dotstuff::push_dot_stuffed;
pub use netset::NetSet;
pub use shutdown::{Shutdown, ShutdownTrigger, shutdown_channel};
pub use throttle::{AuthThrottle, ThrottleVerdict};

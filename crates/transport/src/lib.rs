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
//! * [`AuthThrottle`] counts failed logins per client across all protocols
//!   (from the moment an attempt starts) and says how long to delay the
//!   answer, or to refuse outright; [`LoginLane`] keeps the password checks
//!   of clients with recent failures in a lane of their own.
//! * [`client_key`] says which client an address belongs to (IPv6 per /64).
//!
//! Invariant: memory held for one connection is bounded by the limits its caller
//! passes, whatever the peer sends.

mod blocking;
mod client_key;
mod conn;
mod deflate;
mod dotstuff;
mod login_lane;
mod netset;
mod shutdown;
mod throttle;
pub mod tls;

pub use blocking::blocking;
pub use client_key::{DEFAULT_IPV6_PREFIX, MIN_IPV6_PREFIX, client_key};
pub use conn::{Connection, DEFAULT_HANDSHAKE_TIMEOUT, LineRead};
pub use dotstuff::push_dot_stuffed;
pub use login_lane::{LanePlace, LoginLane};
pub use netset::NetSet;
pub use shutdown::{Shutdown, ShutdownTrigger, shutdown_channel};
pub use throttle::{Attempt, AuthThrottle, ThrottleVerdict};

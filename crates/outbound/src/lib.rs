//! Outbound delivery for Mailroom: where mail for another domain goes, and
//! how it gets there.
//!
//! * [`route`]: MX lookup (preference order, random among equals, A/AAAA
//!   fallback when there is no MX, null MX per RFC 7505) with a resolver that
//!   is the system's or a configured list of servers ([`route::resolver`],
//!   which the engine's DNS record check uses too);
//! * [`client`]: the SMTP client session (EHLO, STARTTLS by policy, AUTH for
//!   relays, PIPELINING, SIZE/8BITMIME/SMTPUTF8 checks, one reply per
//!   recipient);
//! * [`deliver`]: one connection attempt loop over the destination's hosts,
//!   carrying several messages (and recipients) per connection;
//! * [`target_policy`]: which MX addresses may be delivered to (no loopback,
//!   private or link-local targets unless allowed) and how many are tried;
//! * [`dsn`]: RFC 3464 delivery status notifications (bounces and delay
//!   warnings) in plain language.
//!
//! The crate knows nothing of the queue or the store: the engine picks due
//! messages, calls [`deliver::deliver`] and records the per-recipient
//! [`RcptOutcome`]s it gets back.

pub mod client;
pub mod deliver;
pub mod dsn;
pub mod route;
pub mod target_policy;
mod types;

pub use types::*;

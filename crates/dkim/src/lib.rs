//! DKIM for Mailroom: keys, the DNS records that publish them, and signing.
//!
//! DKIM (RFC 6376) lets a receiving server check that a domain (normally the one in the From line)
//! vouches for a message, and that the message was not changed on the way. We sign a hash of selected
//! headers and the body with a private key; the matching public key sits in DNS at
//! `{selector}._domainkey.{domain}`. A receiver looks the selector up, verifies, and feeds the result
//! into DMARC. Rotating keys means publishing a new selector, switching to it, then retiring the old one.
//!
//! Code map:
//! * [`key`]: [`Algorithm`], [`DkimKey`], [`generate`] (RSA-2048 or Ed25519), [`load`] from PKCS#8 PEM,
//!   [`default_selector`];
//! * [`dns`]: [`DnsRecord`] and [`dns_record`], the TXT record an admin publishes;
//! * [`mod@sign`]: [`Signer`] (keys parsed once, for the delivery hot path) and the one-shot [`sign()`].
//!
//! Verification of inbound mail is not here: it belongs with SPF/DMARC in the inbound policy and uses
//! `mail-auth`'s verifier directly.

pub mod dns;
mod error;
pub mod key;
pub mod sign;

pub use dns::{DnsRecord, dns_record};
pub use error::DkimError;
pub use key::{Algorithm, DkimKey, default_selector, generate, load};
pub use sign::{SIGNED_HEADERS, Signer, sign};

//! The Mailroom engine: everything `mailroomd` does, as a library.
//!
//! * [`config`]: the server settings, their defaults and validation (stored as
//!   strings in the store's settings table); [`live`]: the settings and IP
//!   rules in effect, refreshed without a restart; [`ip_filter`]: who may
//!   connect to which protocol and who may relay;
//! * [`paths`]: where the data directory is; [`published`]: what a running
//!   engine leaves there for the CLI and the desktop app (`runtime.json`,
//!   `admin.token`);
//! * [`logging`]: tracing to stdout and to rotating JSON log files;
//! * [`backend`]: the glue that lets the protocol crates use the store
//!   (recipient lookup, logins with per-IP throttling, delivery, maildrop locks);
//! * [`listeners`]: binding ports with plain-language errors, accepting
//!   connections under the IP filter and per-IP and total limits, handing them
//!   to SMTP, POP3 or IMAP; [`listener_set`]: stopping and starting them live;
//! * [`delivery`]: the outbound scheduler (queue → MX or relay, retries,
//!   bounces, delay warnings, DKIM signing); [`domains`]: domain set-up with
//!   DKIM keys; [`secrets`]: encryption of stored relay passwords;
//! * [`certificate`]: the TLS certificate: showing it, importing one,
//!   making a self-signed one, applied to the running server at once;
//! * [`serve`]: start-up, `runtime.json`, shutdown; [`watch`]: live settings
//!   pick-up, remote administration on/off, disk and certificate warnings;
//! * [`dns_records`]: the DNS records each domain needs, and a live check of
//!   what is published;
//! * [`api`]: the admin HTTP/JSON API (token file, logins, status, settings,
//!   domains, accounts, live log, OpenAPI description);
//! * [`logquery`]: searching the JSON log files; [`trace`]: the story of one
//!   message from the log and the queue; [`stats`]: counters of mail and
//!   logins, kept in memory and rolled up into the store every few seconds;
//! * [`cli`]: the command line, including the admin subcommands.

pub mod api;
pub mod backend;
pub mod certificate;
mod claim_guard;
pub mod cli;
pub mod config;
pub mod conn_limits;
pub mod delivery;
pub mod dns_records;
pub mod domains;
mod imap_backend;
pub mod ip_filter;
pub mod listener_set;
pub mod listeners;
pub mod live;
pub mod logging;
pub mod logquery;
pub mod paths;
pub mod published;
pub mod secrets;
pub mod serve;
pub mod stats;
pub mod trace;
pub mod watch;

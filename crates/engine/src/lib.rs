//! The Mailroom engine: everything `mailroomd` does, as a library.
//!
//! * [`config`]: the server settings, their defaults and validation (stored as
//!   strings in the store's settings table);
//! * [`paths`]: where the data directory is;
//! * [`logging`]: tracing to stdout and to rotating JSON log files;
//! * [`backend`]: the glue that lets the protocol crates use the store
//!   (recipient lookup, logins with per-IP throttling, delivery, maildrop locks);
//! * [`listeners`]: binding ports with plain-language errors, accepting
//!   connections with per-IP and total limits, handing them to SMTP or POP3;
//! * [`delivery`]: the outbound scheduler (queue → MX or relay, retries,
//!   bounces, delay warnings, DKIM signing); [`domains`]: domain set-up with
//!   DKIM keys; [`secrets`]: encryption of stored relay passwords;
//! * [`serve`]: start-up, `runtime.json`, shutdown;
//! * [`api`]: the admin HTTP/JSON API (token file, logins, status, settings,
//!   domains, accounts, live log, OpenAPI description);
//! * [`logquery`]: searching the JSON log files; [`trace`]: the story of one
//!   message from the log and the queue; [`stats`]: counters of mail and
//!   logins, kept in memory and rolled up into the store every few seconds;
//! * [`cli`]: the command line, including the admin subcommands.

pub mod api;
pub mod backend;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod domains;
mod imap_backend;
pub mod listeners;
pub mod logging;
pub mod logquery;
pub mod paths;
pub mod secrets;
pub mod serve;
pub mod stats;
pub mod trace;

//! The `mailroomd` command line: `serve` and the admin subcommands.
//!
//! Admin subcommands work directly on the data directory (SQLite allows
//! them while the server runs). Output is plain sentences for people; exit
//! status is 0 on success, 1 with a message on stderr otherwise.

mod admin;
mod cert;
mod dns;
mod iprange;
mod live_api;
mod observe;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Mailroom mail server engine.
#[derive(Parser, Debug)]
#[command(
    name = "mailroomd",
    version,
    about = "Mailroom mail server: SMTP, IMAP and POP3 engine and its administration"
)]
pub struct Cli {
    /// Data directory (default: the system's application data directory).
    #[arg(long, global = true, env = "MAILROOM_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the mail server in the foreground.
    Serve(ServeArgs),
    /// Manage local domains.
    #[command(subcommand)]
    Domain(DomainCmd),
    /// Manage accounts (mailboxes people log in to).
    #[command(subcommand)]
    Account(AccountCmd),
    /// Manage aliases (addresses that forward to other addresses).
    #[command(subcommand)]
    Alias(AliasCmd),
    /// Manage distribution lists.
    #[command(subcommand)]
    List(ListCmd),
    /// Show or change server settings.
    #[command(subcommand)]
    Settings(SettingsCmd),
    /// Set or clear the domain used for logins without @domain.
    DefaultDomain {
        /// The domain; omit with --clear.
        domain: Option<String>,
        /// Remove the default domain.
        #[arg(long)]
        clear: bool,
    },
    /// Look at and control the outbound queue.
    #[command(subcommand)]
    Queue(QueueCmd),
    /// Send outgoing mail through another server (smarthost).
    #[command(subcommand)]
    Relay(RelayCmd),
    /// Require or relax TLS for delivery to particular domains.
    #[command(subcommand, name = "tls-policy")]
    TlsPolicy(TlsPolicyCmd),
    /// Show the DKIM records to publish in DNS.
    #[command(subcommand)]
    Dkim(DkimCmd),
    /// Decide which addresses may connect to which protocols, and which may relay.
    #[command(subcommand, name = "iprange")]
    IpRange(IpRangeCmd),
    /// Show the running server's state (through its admin API).
    Status,
    /// Stop or start one protocol's listener on the running server.
    #[command(subcommand)]
    Listener(ListenerCmd),
    /// Show every DNS record a domain needs, and check what is published.
    #[command(subcommand)]
    Dns(DnsCmd),
    /// Search the log files (newest events, shown oldest first).
    Logs(LogsArgs),
    /// Show everything that happened to one message.
    Trace {
        /// Message id (from "queued as ..." or "queue list").
        id: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show counts of received, sent, delivered, bounced and refused mail and failed logins.
    Stats(StatsArgs),
    /// Show or replace the TLS certificate (a running server uses a new one at once).
    #[command(subcommand)]
    Cert(CertCmd),
    /// Set the password for logging in to the admin API and web interface.
    AdminPassword {
        /// The password (read from standard input if omitted).
        #[arg(long)]
        password: Option<String>,
    },
}

/// Options of `serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind: IpAddr,
    /// Add this number to every standard port (25 → 25+N, ...), to run
    /// without administrator rights or beside another mail server.
    #[arg(long, default_value_t = 0)]
    pub port_offset: u16,
    /// Address of the admin API (port 8080 plus the offset). Keep it on
    /// loopback unless a firewall guards it.
    #[arg(long, default_value = "127.0.0.1")]
    pub admin_bind: IpAddr,
}

/// IP filter commands.
#[derive(Subcommand, Debug)]
pub enum IpRangeCmd {
    /// Show every rule in the order they are looked at.
    List,
    /// Add a rule.
    Add {
        /// Network such as 192.168.1.0/24, or one address.
        network: String,
        /// allow or deny.
        action: String,
        /// all, or some of smtp, submission, pop3, imap, admin (comma-separated).
        #[arg(long, default_value = "all")]
        protocols: String,
        /// Clients in the range may send to other servers without logging in.
        #[arg(long)]
        relay: bool,
        /// Lower numbers are looked at first.
        #[arg(long, default_value_t = 100)]
        priority: i64,
        /// A description.
        #[arg(long)]
        note: Option<String>,
    },
    /// Remove a rule by its id.
    Remove {
        /// The id shown by `iprange list`.
        id: i64,
    },
}

/// Certificate commands. With the server running they go through its admin
/// API, so a new certificate applies to the next connection; otherwise they
/// change the files in DIR/tls, used from the next start.
#[derive(Subcommand, Debug)]
pub enum CertCmd {
    /// Show the certificate: names, issuer, dates, fingerprint.
    Show {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Make a new self-signed certificate (valid 825 days) and use it.
    SelfSigned {
        /// A DNS name for it; repeat for more (default: the host name and localhost).
        #[arg(long = "name", value_name = "NAME")]
        names: Vec<String>,
    },
    /// Use a certificate from a certificate authority (such as Let's Encrypt).
    Import {
        /// PEM file with the certificate chain, the server's own first (e.g. fullchain.pem).
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// PEM file with its private key, without a password (e.g. privkey.pem).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
}

/// Listener commands (they need the server running).
#[derive(Subcommand, Debug)]
pub enum ListenerCmd {
    /// Close a listener's port: smtp, submission, submissions, pop3, pop3s, imap or imaps.
    Stop {
        /// Listener name.
        name: String,
    },
    /// Open a stopped listener again.
    Start {
        /// Listener name.
        name: String,
    },
}

/// Options of `logs`.
#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Only events of the last span, e.g. 30m, 1h, 2d.
    #[arg(long)]
    pub since: Option<String>,
    /// Not before this time (RFC 3339; overrides --since).
    #[arg(long)]
    pub from: Option<String>,
    /// Not after this time (RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    /// Minimum level: error, warn, info, debug or trace.
    #[arg(long)]
    pub level: Option<String>,
    /// smtp, pop3, imap, delivery, api or engine.
    #[arg(long)]
    pub protocol: Option<String>,
    /// Text to find (any case) in the message or its fields.
    #[arg(long)]
    pub text: Option<String>,
    /// Only this session id.
    #[arg(long)]
    pub session: Option<u64>,
    /// Only this message id.
    #[arg(long)]
    pub message: Option<String>,
    /// Most events to show (1 to 5000).
    #[arg(long, default_value_t = crate::logquery::DEFAULT_LIMIT)]
    pub limit: usize,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Options of `stats`.
#[derive(Args, Debug)]
pub struct StatsArgs {
    /// minute, hour or day.
    #[arg(long, default_value = "hour")]
    pub granularity: String,
    /// How far back, e.g. 1h, 24h, 30d (default: an hour of minutes, a day of hours, 30 days of days).
    #[arg(long)]
    pub since: Option<String>,
    /// Only this metric (e.g. received, delivered_local, rejected_unknown_user).
    #[arg(long)]
    pub metric: Option<String>,
    /// A domain or mailbox address, or * for every scope (default: the whole server).
    #[arg(long)]
    pub scope: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Domain commands.
#[derive(Subcommand, Debug)]
pub enum DomainCmd {
    /// Add a domain (its postmaster account is created too).
    Add {
        /// Domain name, e.g. example.com.
        name: String,
    },
    /// List domains.
    List,
    /// Remove a domain with all its accounts and mail.
    Remove {
        /// Domain name.
        name: String,
    },
    /// Send mail for unknown names in a domain to one address.
    CatchAll {
        /// Domain name.
        domain: String,
        /// Address that receives it.
        address: Option<String>,
        /// Turn the catch-all off.
        #[arg(long)]
        clear: bool,
    },
}

/// Account commands.
#[derive(Subcommand, Debug)]
pub enum AccountCmd {
    /// Add an account (its folders are created too).
    Add {
        /// Address, e.g. alice@example.com.
        address: String,
        /// Password (read from standard input if omitted).
        #[arg(long)]
        password: Option<String>,
        /// Quota such as 500M or 2G (default: unlimited).
        #[arg(long)]
        quota: Option<String>,
    },
    /// List accounts.
    List {
        /// Only this domain.
        #[arg(long)]
        domain: Option<String>,
    },
    /// Set a new password.
    Passwd {
        /// Address.
        address: String,
        /// New password (read from standard input if omitted).
        #[arg(long)]
        password: Option<String>,
    },
    /// Set the quota (e.g. 500M, 2G, or 0 for unlimited).
    Quota {
        /// Address.
        address: String,
        /// Size.
        size: String,
    },
    /// Let the account receive mail and log in again.
    Enable {
        /// Address.
        address: String,
    },
    /// Stop the account from receiving mail and logging in.
    Disable {
        /// Address.
        address: String,
    },
    /// Remove the account and all its mail.
    Remove {
        /// Address.
        address: String,
    },
}

/// Alias commands.
#[derive(Subcommand, Debug)]
pub enum AliasCmd {
    /// Forward an address to one or more others.
    Add {
        /// The alias address.
        address: String,
        /// Where its mail goes.
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// List aliases.
    List,
    /// Remove an alias (or only one of its targets).
    Remove {
        /// The alias address.
        address: String,
        /// Remove only this target.
        target: Option<String>,
    },
}

/// Distribution list commands.
#[derive(Subcommand, Debug)]
pub enum ListCmd {
    /// Create a distribution list.
    Add {
        /// The list's address.
        address: String,
    },
    /// Delete a distribution list.
    Remove {
        /// The list's address.
        address: String,
    },
    /// Add a member (local or external address).
    MemberAdd {
        /// The list's address.
        list: String,
        /// Member address.
        member: String,
    },
    /// Remove a member.
    MemberRemove {
        /// The list's address.
        list: String,
        /// Member address.
        member: String,
    },
    /// Show lists and their members.
    #[command(visible_alias = "list")]
    Show,
}

/// Settings commands.
#[derive(Subcommand, Debug)]
pub enum SettingsCmd {
    /// Show every setting with its value.
    List,
    /// Show one setting.
    Get {
        /// Setting name.
        key: String,
    },
    /// Change a setting (a running server applies most at once; the answer says which wait for a restart).
    Set {
        /// Setting name.
        key: String,
        /// New value.
        value: String,
    },
    /// Return a setting to its default.
    Reset {
        /// Setting name.
        key: String,
    },
}

/// Queue commands.
#[derive(Subcommand, Debug)]
pub enum QueueCmd {
    /// List queued messages.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show one queued message with each recipient's state.
    Show {
        /// Message id (from `queue list`).
        id: String,
    },
    /// Try a message again now (or every message with --all).
    Retry {
        /// Message id.
        id: Option<String>,
        /// Every queued message.
        #[arg(long)]
        all: bool,
    },
    /// Remove a message from the queue without delivering it.
    Delete {
        /// Message id.
        id: String,
    },
    /// Try every queued message now.
    Flush,
    /// Hold all outbound delivery.
    Pause,
    /// Resume outbound delivery.
    Resume,
}

/// Relay (smarthost) commands.
#[derive(Subcommand, Debug)]
pub enum RelayCmd {
    /// Send mail through HOST (for one domain, or for all).
    Set {
        /// Relay host name or address.
        host: String,
        /// Only for mail to this domain (default: every remote domain).
        #[arg(long)]
        domain: Option<String>,
        /// Port.
        #[arg(long, default_value_t = 587)]
        port: u16,
        /// TLS: required, verified, opportunistic, implicit (port 465 style) or none.
        #[arg(long, default_value = "required")]
        tls: String,
        /// Login name at the relay.
        #[arg(long)]
        user: Option<String>,
        /// Password at the relay (stored encrypted).
        #[arg(long)]
        password: Option<String>,
    },
    /// List relays (passwords are never shown).
    List,
    /// Stop using a relay.
    Remove {
        /// The relay's domain (default: the one for every domain).
        #[arg(long)]
        domain: Option<String>,
    },
}

/// Per-domain TLS policy commands.
#[derive(Subcommand, Debug)]
pub enum TlsPolicyCmd {
    /// Set the STARTTLS policy for one destination domain.
    Set {
        /// Destination domain.
        domain: String,
        /// none, opportunistic, required or verified.
        policy: String,
    },
    /// List per-domain policies.
    List,
    /// Go back to the default policy for a domain.
    Remove {
        /// Destination domain.
        domain: String,
    },
}

/// DKIM commands.
#[derive(Subcommand, Debug)]
pub enum DkimCmd {
    /// Show the DNS TXT records that publish a domain's DKIM keys.
    Show {
        /// A local domain.
        domain: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// DNS record commands.
#[derive(Subcommand, Debug)]
pub enum DnsCmd {
    /// List the DNS records to publish for a domain (MX, SPF, DKIM, DMARC, ...).
    Show {
        /// A local domain.
        domain: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Look the records up in DNS and say which are right; exits with 1 if a
    /// required record is missing or wrong.
    Check {
        /// A local domain.
        domain: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let explicit_dir = cli.data_dir.is_some();
    let data_dir = cli.data_dir.clone().unwrap_or_else(crate::paths::default_data_dir);
    let result = match cli.command {
        Command::Serve(args) => {
            // Hints name this very executable, so they can be pasted as they are,
            // even from a source checkout where mailroomd is not on the PATH.
            let exe = std::env::current_exe()
                .ok()
                .filter(|p| !on_path(p))
                .map(|p| shell_quote(&p.display().to_string()))
                .unwrap_or_else(|| "mailroomd".to_string());
            let cli_hint = if explicit_dir {
                format!("{exe} --data-dir {}", shell_quote(&data_dir.display().to_string()))
            } else {
                exe
            };
            crate::serve::run(
                &data_dir,
                crate::serve::ServeOptions {
                    bind: args.bind,
                    port_offset: args.port_offset,
                    admin_bind: args.admin_bind,
                    cli_hint,
                },
            )
        }
        other => {
            crate::logging::init_admin();
            admin::run(&data_dir, other)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether `exe` is what a plain `mailroomd` would run.
fn on_path(exe: &std::path::Path) -> bool {
    let Some(dir) = exe.parent() else { return false };
    std::env::var_os("PATH").map(|paths| std::env::split_paths(&paths).any(|p| p == dir)).unwrap_or(false)
}

fn shell_quote(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-:".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

//! Carrying out the admin subcommands against the data directory.

use std::io::BufRead;
use std::path::Path;

use anyhow::{Context as _, bail};
use mailroom_store::{DEFAULT_FOLDERS, Store};

use super::{
    AccountCmd, AliasCmd, Command, DkimCmd, DomainCmd, ListCmd, QueueCmd, RelayCmd, SettingsCmd, TlsPolicyCmd,
};
use crate::api::queue as queue_api;
use crate::config;

pub(super) fn run(data_dir: &Path, cmd: Command) -> anyhow::Result<()> {
    let store = Store::open(data_dir).with_context(|| format!("opening the data directory {}", data_dir.display()))?;
    match cmd {
        Command::Serve(_) => unreachable_serve(),
        Command::Domain(c) => domain(&store, c),
        Command::Account(c) => account(&store, c),
        Command::Alias(c) => alias(&store, c),
        Command::List(c) => list(&store, c),
        Command::Settings(c) => settings(&store, c),
        Command::DefaultDomain { domain, clear } => default_domain(&store, domain, clear),
        Command::Queue(c) => queue(&store, c),
        Command::Relay(c) => relay(&store, c),
        Command::TlsPolicy(c) => tls_policy(&store, c),
        Command::Dkim(DkimCmd::Show { domain, json }) => dkim_show(&store, &domain, json),
        Command::IpRange(c) => super::iprange::run(&store, c),
        Command::Status => super::live_api::status(data_dir),
        Command::Listener(c) => super::live_api::listener(data_dir, c),
        Command::Cert(c) => super::cert::run(data_dir, &store, c),
        Command::Dns(c) => super::dns::run(&store, c),
        Command::Logs(a) => super::observe::logs(data_dir, a),
        Command::Trace { id, json } => super::observe::trace(data_dir, &store, &id, json),
        Command::Stats(a) => super::observe::stats(&store, a),
        Command::AdminPassword { password } => {
            let password = read_password(password)?;
            crate::api::auth::set_admin_password(&store, &password)?;
            println!("Admin password set; log in to the admin API with it (POST /api/v1/login).");
            Ok(())
        }
    }
}

fn unreachable_serve() -> anyhow::Result<()> {
    bail!("serve is not an admin command")
}

fn domain(store: &Store, c: DomainCmd) -> anyhow::Result<()> {
    match c {
        DomainCmd::Add { name } => {
            let d = crate::domains::add_domain(store, &name)?;
            println!(
                "Added domain {0}. Its postmaster@{0} mailbox was created; give it a password with \"account passwd postmaster@{0}\".\n\
                 Its DKIM keys were created too; \"dns show {0}\" lists the DNS records to publish.",
                d.name
            );
        }
        DomainCmd::List => {
            let domains = store.list_domains()?;
            if domains.is_empty() {
                println!("No domains yet; add one with \"domain add example.com\".");
            }
            for d in domains {
                let catch_all = d.catch_all.map(|c| format!(", catch-all to {c}")).unwrap_or_default();
                println!("{}  ({} accounts{catch_all})", d.name, d.accounts);
            }
        }
        DomainCmd::Remove { name } => {
            store.remove_domain(&name)?;
            println!("Removed domain {name} with its accounts and mail.");
        }
        DomainCmd::CatchAll { domain, address, clear } => match (address, clear) {
            (Some(a), false) => {
                store.set_catch_all(&domain, Some(&a))?;
                println!("Mail for unknown names at {domain} now goes to {a}.");
            }
            (None, true) => {
                store.set_catch_all(&domain, None)?;
                println!("Catch-all for {domain} turned off; mail for unknown names is refused.");
            }
            _ => bail!("give either an address or --clear"),
        },
    }
    Ok(())
}

/// Parses sizes like `500M`, `2G`, `1024`, `0`, `unlimited`.
fn parse_size(s: &str) -> anyhow::Result<i64> {
    let t = s.trim().to_ascii_uppercase();
    if t == "UNLIMITED" || t == "0" {
        return Ok(0);
    }
    let (num, mult) = match t.trim_end_matches('B').chars().last() {
        Some('K') => (&t[..t.trim_end_matches('B').len() - 1], 1i64 << 10),
        Some('M') => (&t[..t.trim_end_matches('B').len() - 1], 1 << 20),
        Some('G') => (&t[..t.trim_end_matches('B').len() - 1], 1 << 30),
        _ => (t.trim_end_matches('B'), 1),
    };
    match num.trim().parse::<f64>() {
        Ok(n) if n >= 0.0 && n.is_finite() => Ok((n * mult as f64) as i64),
        _ => bail!("\"{s}\" is not a size; write it like 500M or 2G"),
    }
}

fn human(bytes: i64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

fn read_password(given: Option<String>) -> anyhow::Result<String> {
    if let Some(p) = given {
        return Ok(p);
    }
    eprint!("Password: ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let p = line.trim_end_matches(['\r', '\n']).to_string();
    if p.is_empty() {
        bail!("no password given; use --password or type it on standard input");
    }
    Ok(p)
}

fn account(store: &Store, c: AccountCmd) -> anyhow::Result<()> {
    match c {
        AccountCmd::Add { address, password, quota } => {
            let quota = quota.as_deref().map(parse_size).transpose()?.unwrap_or(0);
            let password = read_password(password)?;
            let a = store.add_account(&address, Some(&password), quota)?;
            let folders: Vec<&str> = DEFAULT_FOLDERS.iter().map(|(n, _)| *n).collect();
            println!("Added account {} with folders {}.", a.address, folders.join(", "));
        }
        AccountCmd::List { domain } => {
            let accounts = store.list_accounts(domain.as_deref())?;
            if accounts.is_empty() {
                println!("No accounts.");
            }
            for a in accounts {
                let quota = if a.quota_bytes > 0 { human(a.quota_bytes) } else { "unlimited".into() };
                let mut notes = Vec::new();
                if !a.enabled {
                    notes.push("disabled");
                }
                if !a.has_password {
                    notes.push("no password set");
                }
                let notes = if notes.is_empty() { String::new() } else { format!("  [{}]", notes.join(", ")) };
                println!("{}  used {} of {quota}{notes}", a.address, human(a.used_bytes));
            }
        }
        AccountCmd::Passwd { address, password } => {
            let password = read_password(password)?;
            store.set_password(&address, &password)?;
            println!("Password of {address} changed.");
        }
        AccountCmd::Quota { address, size } => {
            let q = parse_size(&size)?;
            store.set_quota(&address, q)?;
            println!("Quota of {address} set to {}.", if q > 0 { human(q) } else { "unlimited".into() });
        }
        AccountCmd::Enable { address } => {
            store.set_enabled(&address, true)?;
            println!("{address} is enabled.");
        }
        AccountCmd::Disable { address } => {
            store.set_enabled(&address, false)?;
            println!("{address} is disabled: it receives no mail and cannot log in.");
        }
        AccountCmd::Remove { address } => {
            store.remove_account(&address)?;
            println!("Removed {address} and its mail.");
        }
    }
    Ok(())
}

fn alias(store: &Store, c: AliasCmd) -> anyhow::Result<()> {
    match c {
        AliasCmd::Add { address, targets } => {
            store.add_alias(&address, &targets)?;
            println!("Mail to {address} now goes to {}.", targets.join(", "));
        }
        AliasCmd::List => {
            let aliases = store.list_aliases()?;
            if aliases.is_empty() {
                println!("No aliases.");
            }
            for a in aliases {
                println!("{} -> {}", a.address, a.targets.join(", "));
            }
        }
        AliasCmd::Remove { address, target } => {
            store.remove_alias(&address, target.as_deref())?;
            println!("Removed.");
        }
    }
    Ok(())
}

fn list(store: &Store, c: ListCmd) -> anyhow::Result<()> {
    match c {
        ListCmd::Add { address } => {
            store.add_list(&address)?;
            println!("Created distribution list {address}; add members with \"list member-add {address} name@...\".");
        }
        ListCmd::Remove { address } => {
            store.remove_list(&address)?;
            println!("Removed distribution list {address}.");
        }
        ListCmd::MemberAdd { list, member } => {
            store.add_list_member(&list, &member)?;
            println!("{member} now receives mail sent to {list}.");
        }
        ListCmd::MemberRemove { list, member } => {
            store.remove_list_member(&list, &member)?;
            println!("{member} removed from {list}.");
        }
        ListCmd::Show => {
            let lists = store.list_lists()?;
            if lists.is_empty() {
                println!("No distribution lists.");
            }
            for l in lists {
                println!(
                    "{}: {}",
                    l.address,
                    if l.members.is_empty() { "(no members)".into() } else { l.members.join(", ") }
                );
            }
        }
    }
    Ok(())
}

fn settings(store: &Store, c: SettingsCmd) -> anyhow::Result<()> {
    match c {
        SettingsCmd::List => {
            for def in config::SETTINGS {
                let when = if crate::live::needs_restart(def.key) { " (applies at restart)" } else { "" };
                println!("{:<26} = {:<24} {}{when}", def.key, config::value(store, def.key)?, def.help);
            }
        }
        SettingsCmd::Get { key } => {
            if config::find(&key).is_none() {
                bail!("there is no setting called \"{key}\"; \"settings list\" shows them all");
            }
            println!("{}", config::value(store, &key)?);
        }
        SettingsCmd::Set { key, value } => {
            let v = config::set(store, &key, &value)?;
            if crate::live::needs_restart(&key) {
                println!("{key} = {v} (a running server uses it after its next restart).");
            } else {
                println!("{key} = {v} (a running server uses it within seconds).");
            }
        }
        SettingsCmd::Reset { key } => {
            if config::find(&key).is_none() {
                bail!("there is no setting called \"{key}\"");
            }
            store.clear_setting(&key)?;
            println!("{key} is back to its default ({}).", config::value(store, &key)?);
        }
    }
    Ok(())
}

fn default_domain(store: &Store, domain: Option<String>, clear: bool) -> anyhow::Result<()> {
    match (domain, clear) {
        (Some(d), false) => {
            if !store.is_local_domain(&d)? {
                bail!("{d} is not one of this server's domains; add it first with \"domain add {d}\"");
            }
            store.set_setting("default_domain", &d.to_lowercase())?;
            println!("Users of {d} can now log in with their name alone.");
        }
        (None, true) => {
            store.clear_setting("default_domain")?;
            println!("Logins need the full address again.");
        }
        (None, false) => println!("{}", config::value(store, "default_domain")?),
        (Some(_), true) => bail!("give either a domain or --clear"),
    }
    Ok(())
}

fn when(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_default()
}

fn queue(store: &Store, c: QueueCmd) -> anyhow::Result<()> {
    match c {
        QueueCmd::List { json } => {
            let paused = queue_api::is_paused(store)?;
            // One line (or JSON object) per message, recipients together.
            let messages = queue_api::group_messages(store.queue_entries()?);
            if json {
                let list: Vec<serde_json::Value> = messages
                    .iter()
                    .map(|(id, rows)| {
                        let first = &rows[0];
                        let status = queue_api::message_status(rows, paused);
                        serde_json::json!({
                            "id": id,
                            "sender": first.sender,
                            "recipients": rows.iter().map(|r| r.recipient.clone()).collect::<Vec<_>>(),
                            "status": status,
                            "attempts": rows.iter().map(|r| r.attempts).max().unwrap_or(0),
                            "next_attempt": when(rows.iter().map(|r| r.next_attempt_at).min().unwrap_or(0)),
                            "last_error": rows.iter().find_map(|r| r.last_error.clone()),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            if paused {
                println!("Delivery is paused (\"queue resume\" to continue).");
            }
            if messages.is_empty() {
                println!("The outbound queue is empty.");
            }
            for (id, rows) in &messages {
                let first = &rows[0];
                let rcpts: Vec<&str> = rows.iter().map(|r| r.recipient.as_str()).collect();
                println!(
                    "{id}  from {}  to {}  attempts {}  next {}{}",
                    if first.sender.is_empty() { "<>" } else { &first.sender },
                    rcpts.join(", "),
                    rows.iter().map(|r| r.attempts).max().unwrap_or(0),
                    when(rows.iter().map(|r| r.next_attempt_at).min().unwrap_or(0)),
                    rows.iter()
                        .find_map(|r| r.last_error.clone())
                        .map(|e| format!("\n    last error: {e}"))
                        .unwrap_or_default()
                );
            }
        }
        QueueCmd::Show { id } => {
            let rows = store.queue_message(&id)?;
            if rows.is_empty() {
                bail!("there is no queued message {id}");
            }
            let first = &rows[0];
            println!("Message {id}");
            println!("  from:     {}", if first.sender.is_empty() { "<>" } else { &first.sender });
            println!("  arrived:  {}", when(first.arrived_at));
            for r in &rows {
                println!(
                    "  to {}: {} after {} attempt(s), next {}{}",
                    r.recipient,
                    r.status,
                    r.attempts,
                    when(r.next_attempt_at),
                    r.last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default()
                );
            }
        }
        QueueCmd::Retry { id, all } => {
            let n = match (id, all) {
                (Some(id), false) => store.queue_retry(Some(&id))?,
                (None, true) => store.queue_retry(None)?,
                _ => bail!("give a message id, or --all"),
            };
            println!("{n} recipient(s) will be tried again within seconds.");
        }
        QueueCmd::Delete { id } => {
            let n = store.queue_delete(&id)?;
            println!("Deleted {id} ({n} recipient(s)); it will not be delivered and no bounce is sent.");
        }
        QueueCmd::Flush => {
            let n = store.queue_retry(None)?;
            println!("{n} recipient(s) will be tried again within seconds.");
        }
        QueueCmd::Pause => {
            queue_api::set_paused(store, true)?;
            println!("Outbound delivery is paused; mail keeps being accepted and queued.");
        }
        QueueCmd::Resume => {
            queue_api::set_paused(store, false)?;
            println!("Outbound delivery resumed.");
        }
    }
    Ok(())
}

fn relay(store: &Store, c: RelayCmd) -> anyhow::Result<()> {
    match c {
        RelayCmd::Set { host, domain, port, tls, user, password } => {
            let tls = tls.to_ascii_lowercase();
            if !["required", "verified", "opportunistic", "implicit", "none"].contains(&tls.as_str()) {
                bail!("--tls must be required, verified, opportunistic, implicit or none");
            }
            if host.trim().is_empty() || host.contains(char::is_whitespace) {
                bail!("\"{host}\" is not a host name");
            }
            let secret = match (&user, password) {
                (Some(_), Some(p)) => Some(crate::secrets::SecretBox::for_store(store)?.seal(&p)?),
                (Some(_), None) => Some(crate::secrets::SecretBox::for_store(store)?.seal(&read_password(None)?)?),
                (None, Some(_)) => bail!("--password needs --user"),
                (None, None) => None,
            };
            store.set_relay(&mailroom_store::RelayRow {
                domain: domain.clone().unwrap_or_default(),
                host: host.clone(),
                port,
                tls: tls.clone(),
                username: user.clone(),
                secret,
            })?;
            let scope = domain.map(|d| format!("Mail to {d}")).unwrap_or_else(|| "All outgoing mail".to_string());
            let login = user.map(|u| format!(", logging in as {u}")).unwrap_or_default();
            println!("{scope} now goes through {host}:{port} (TLS: {tls}{login}). Takes effect at the next delivery.");
        }
        RelayCmd::List => {
            let relays = store.relays()?;
            if relays.is_empty() {
                println!("No relays: mail goes straight to each domain's mail servers (MX).");
            }
            for r in relays {
                let scope = if r.domain.is_empty() { "every domain".to_string() } else { r.domain.clone() };
                let login = r.username.map(|u| format!(", user {u}, password set")).unwrap_or_default();
                println!("{scope} -> {}:{} (TLS: {}{login})", r.host, r.port, r.tls);
            }
        }
        RelayCmd::Remove { domain } => {
            store.remove_relay(domain.as_deref().unwrap_or(""))?;
            println!("Relay removed.");
        }
    }
    Ok(())
}

fn tls_policy(store: &Store, c: TlsPolicyCmd) -> anyhow::Result<()> {
    match c {
        TlsPolicyCmd::Set { domain, policy } => {
            let Some(p) = mailroom_outbound::TlsPolicy::parse(&policy) else {
                bail!("the policy must be none, opportunistic, required or verified");
            };
            store.set_tls_policy(&domain, p.as_str())?;
            println!("Delivery to {domain} now uses TLS policy \"{}\".", p.as_str());
        }
        TlsPolicyCmd::List => {
            println!("Default: {}", config::value(store, "outbound_tls")?);
            for (d, p) in store.tls_policies()? {
                println!("{d}: {p}");
            }
        }
        TlsPolicyCmd::Remove { domain } => {
            store.remove_tls_policy(&domain)?;
            println!("{domain} uses the default TLS policy again.");
        }
    }
    Ok(())
}

fn dkim_show(store: &Store, domain: &str, json: bool) -> anyhow::Result<()> {
    if !store.is_local_domain(domain)? {
        bail!("{domain} is not one of this server's domains");
    }
    let records = crate::domains::dkim_records(store, domain)?;
    if json {
        let list: Vec<serde_json::Value> = records
            .iter()
            .map(|(row, rec)| {
                serde_json::json!({"selector": row.selector, "algorithm": row.algorithm, "name": rec.name, "value": rec.value})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if records.is_empty() {
        println!("{domain} has no DKIM keys.");
    }
    // A TXT string holds at most 255 characters, so long RSA keys are printed
    // as several quoted strings, the way DNS zone files and most panels take them.
    for (_, rec) in records {
        let strings: Vec<String> = rec.txt_strings().iter().map(|s| format!("\"{s}\"")).collect();
        println!("{} IN TXT {}", rec.name, strings.join(" "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("500M").expect("size"), 500 << 20);
        assert_eq!(parse_size("2g").expect("size"), 2 << 30);
        assert_eq!(parse_size("1.5GB").expect("size"), 3 << 29);
        assert_eq!(parse_size("unlimited").expect("size"), 0);
        assert_eq!(parse_size("1024").expect("size"), 1024);
        assert!(parse_size("lots").is_err());
    }
}

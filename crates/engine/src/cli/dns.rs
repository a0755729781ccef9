//! `mailroomd dns show|check DOMAIN`: the DNS records a domain needs, as a
//! table to copy into a DNS panel, and a live check of what is published
//! (plain ASCII status words; exit status 1 when a required record is not
//! right). Both come from [`crate::dns_records`], as the admin API's do.

use anyhow::bail;
use mailroom_store::Store;

use super::DnsCmd;
use crate::config::Config;
use crate::dns_records::{self, DnsRecord, RecordKind, RecordType, Status};

pub(super) fn run(store: &Store, cmd: DnsCmd) -> anyhow::Result<()> {
    let config = Config::load(store)?;
    match cmd {
        DnsCmd::Show { domain, json } => {
            let wanted = dns_records::for_domain(store, &domain, &config.hostname)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&wanted)?);
                return Ok(());
            }
            println!("DNS records to publish for {} (this server: {})", wanted.domain, wanted.hostname);
            let width = name_width(&wanted.records);
            for required in [true, false] {
                println!();
                println!("{}", if required { "Required:" } else { "Optional (help mail programs find the server):" });
                println!("  {:<5}  {:<width$}  VALUE", "TYPE", "NAME");
                for r in wanted.records.iter().filter(|r| r.required == required) {
                    println!("  {:<5}  {:<width$}  {}", r.record_type.as_str(), label(r), publish_value(r));
                    println!("  {:<5}  {:<width$}  {}", "", "", r.purpose);
                }
            }
            println!();
            println!("Names are shown without the trailing dot; \"dns check {}\" looks them up.", wanted.domain);
            Ok(())
        }
        DnsCmd::Check { domain, json } => {
            let wanted = dns_records::for_domain(store, &domain, &config.hostname)?;
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let checked = runtime.block_on(dns_records::check(wanted, &config.dns_servers));
            let not_right: Vec<String> = checked
                .records
                .iter()
                .filter(|c| c.record.required && c.status != Status::Ok)
                .map(|c| format!("{} {}", c.record.record_type.as_str(), label(&c.record)))
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&checked)?);
            } else {
                println!("DNS check for {} (this server: {})", checked.domain, checked.hostname);
                println!();
                let width = name_width(&checked.records.iter().map(|c| c.record.clone()).collect::<Vec<_>>());
                for c in &checked.records {
                    let r = &c.record;
                    let need = if r.required { "required" } else { "optional" };
                    println!("{:<7}  {:<5}  {:<width$}  {need}", c.status.word(), r.record_type.as_str(), label(r));
                    if !c.found.is_empty() {
                        println!("{:<7}  found:   {}", "", c.found.join(" | "));
                    }
                    if c.status != Status::Ok {
                        println!("{:<7}  publish: {}", "", publish_value(r));
                    }
                    println!("{:<7}  {}", "", c.detail);
                }
                println!();
                if not_right.is_empty() {
                    println!("All required records are published correctly.");
                } else {
                    println!("Not right yet: {}.", not_right.join(", "));
                }
            }
            if !checked.ok {
                bail!("{} required DNS record(s) of {} are not published correctly", not_right.len(), checked.domain);
            }
            Ok(())
        }
    }
}

/// The owner name, with what the record is when the type alone does not say.
fn label(r: &DnsRecord) -> String {
    match r.kind {
        RecordKind::Spf => format!("{} (SPF)", r.name),
        _ => r.name.clone(),
    }
}

fn name_width(records: &[DnsRecord]) -> usize {
    records.iter().map(|r| label(r).len()).max().unwrap_or(4).clamp(4, 48)
}

/// The value as a DNS panel takes it: TXT values longer than one TXT string
/// (255 characters, RSA DKIM keys) as several quoted strings.
fn publish_value(r: &DnsRecord) -> String {
    if r.record_type == RecordType::Txt && r.value.len() > 255 {
        let rec = mailroom_dkim::DnsRecord { name: r.name.clone(), value: r.value.clone() };
        let parts: Vec<String> = rec.txt_strings().iter().map(|s| format!("\"{s}\"")).collect();
        return parts.join(" ");
    }
    r.value.clone()
}

//! `mailroomd iprange`: the IP filter from the command line, through the
//! same validation as the admin API. A running server picks changes up
//! within seconds (see [`crate::live`]).

use anyhow::bail;
use mailroom_store::{IpRangeRow, Store};

use super::IpRangeCmd;

/// Carries out one `iprange` command.
pub(super) fn run(store: &Store, cmd: IpRangeCmd) -> anyhow::Result<()> {
    match cmd {
        IpRangeCmd::List => {
            println!(
                "{:>4}  {:>8}  {:<6} {:<5} {:<24} {:<22} NOTE",
                "ID", "PRIORITY", "ACTION", "RELAY", "NETWORK", "PROTOCOLS"
            );
            for r in store.ip_ranges()? {
                println!(
                    "{:>4}  {:>8}  {:<6} {:<5} {:<24} {:<22} {}",
                    r.id,
                    r.priority,
                    r.action,
                    if r.relay { "yes" } else { "no" },
                    r.network,
                    r.protocols,
                    r.note
                );
            }
            println!(
                "The first matching rule (lowest priority number) decides; addresses no rule matches may connect but not relay."
            );
        }
        IpRangeCmd::Add { network, action, protocols, relay, priority, note } => {
            let row = crate::ip_filter::validate(&IpRangeRow {
                id: 0,
                network,
                protocols,
                action,
                relay,
                priority,
                note: note.unwrap_or_default(),
            })
            .map_err(anyhow::Error::msg)?;
            let added = store.add_ip_range(&row)?;
            println!(
                "IP range {} added: {} {} for {}{}.",
                added.id,
                added.action,
                added.network,
                added.protocols,
                if added.relay { ", trusted to relay" } else { "" }
            );
        }
        IpRangeCmd::Remove { id } => {
            if !store.remove_ip_range(id)? {
                bail!("there is no IP range {id}; \"iprange list\" shows them");
            }
            println!("IP range {id} removed.");
        }
    }
    Ok(())
}

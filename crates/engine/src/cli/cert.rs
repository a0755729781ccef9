//! `mailroomd cert show | self-signed | import`. With the server running
//! they go through its admin API ([`super::live_api`]), so a new
//! certificate is used by the next connection; otherwise they act on
//! `DIR/tls` directly ([`crate::certificate::Certificates::offline`]) and
//! the next start loads the result.

use std::path::Path;

use anyhow::{Context as _, bail};
use mailroom_store::Store;
use serde_json::{Value, json};

use super::CertCmd;
use super::live_api;
use crate::certificate::{CertError, CertificateInfo, Certificates};

pub(super) fn run(data_dir: &Path, store: &Store, cmd: CertCmd) -> anyhow::Result<()> {
    let running = live_api::server_running(data_dir);
    let offline = || Certificates::offline(data_dir);
    match cmd {
        CertCmd::Show { json } => {
            let info =
                if running { through_api(data_dir, "GET", "/api/v1/certificate", None)? } else { offline().info()? };
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                print_info(&info);
            }
        }
        CertCmd::SelfSigned { names } => {
            let info = if running {
                let body = if names.is_empty() { json!({}) } else { json!({ "names": names }) };
                through_api(data_dir, "POST", "/api/v1/certificate/self-signed", Some(&body))?
            } else {
                let hostname = crate::config::value(store, "hostname")?;
                let given = (!names.is_empty()).then_some(names.as_slice());
                offline().self_signed(given, &hostname).map_err(refusal)?
            };
            changed(running, "Made a new self-signed certificate.", &info);
        }
        CertCmd::Import { cert, key } => {
            let cert_pem = read_pem(&cert)?;
            let key_pem = read_pem(&key)?;
            let info = if running {
                let body = json!({ "cert_pem": cert_pem, "key_pem": key_pem });
                through_api(data_dir, "PUT", "/api/v1/certificate", Some(&body))?
            } else {
                offline().import(cert_pem.as_bytes(), key_pem.as_bytes()).map_err(refusal)?
            };
            changed(running, "Installed the certificate.", &info);
        }
    }
    Ok(())
}

fn refusal(e: CertError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// One call to the running server; its refusal becomes the error.
fn through_api(data_dir: &Path, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<CertificateInfo> {
    let (code, answer) = live_api::call_with(data_dir, method, path, body)?;
    if code != 200 {
        bail!("{}", live_api::error_text(&answer));
    }
    serde_json::from_value(answer).context("the admin API sent an unexpected answer")
}

fn read_pem(path: &Path) -> anyhow::Result<String> {
    let bytes = mailroom_transport::tls::files::read_limited(path)?;
    String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!(
            "{} is not PEM text; if it is a binary (DER) certificate, convert it first: openssl x509 -inform der -in {0} -out cert.pem",
            path.display()
        )
    })
}

fn changed(running: bool, what: &str, info: &CertificateInfo) {
    if running {
        println!("{what} New connections use it; connections already open keep the old one.");
    } else {
        println!("{what} Mailroom is not running; it uses the certificate from its next start.");
    }
    print_info(info);
}

fn print_info(info: &CertificateInfo) {
    let kind = if info.self_signed { "self-signed" } else { "issued by a certificate authority" };
    println!("Certificate for {} ({kind})", info.subject);
    println!("  Names:       {}", if info.names.is_empty() { "(none)".into() } else { info.names.join(", ") });
    println!("  Issuer:      {}", info.issuer);
    println!("  Valid from:  {}", info.not_before);
    let left = match info.days_left {
        d if d < 0 => format!("expired {} days ago", -d),
        1 => "1 day left".to_string(),
        d => format!("{d} days left"),
    };
    println!("  Valid until: {} ({left})", info.not_after);
    println!("  SHA-256:     {}", info.fingerprint_sha256);
    let chain = if info.chain_length == 1 {
        "1 certificate".to_string()
    } else {
        format!("{} certificates", info.chain_length)
    };
    println!("  Chain:       {chain}");
}

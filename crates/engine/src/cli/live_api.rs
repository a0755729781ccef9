//! Commands that act on the running server (`status`, `listener stop|start`,
//! and `cert` while it runs) go through its admin API, like the desktop app:
//! the address comes from `runtime.json` and the credentials from the local
//! `admin.token` file.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::Value;

use super::ListenerCmd;

/// Sends one request to the running server's admin API; returns the status
/// code and the JSON body.
pub(super) fn call(data_dir: &Path, method: &str, path: &str) -> anyhow::Result<(u16, Value)> {
    call_with(data_dir, method, path, None)
}

/// Like [`call`], with a JSON request body if `body` is given.
pub(super) fn call_with(
    data_dir: &Path,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Value)> {
    let addr = crate::published::running(data_dir)?.admin;
    let token = crate::published::local_token(data_dir)?;
    let mut tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("cannot reach the admin API at {addr}; is Mailroom running?"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let content_type = if body.is_some() { "Content-Type: application/json\r\n" } else { "" };
    write!(
        tcp,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n{content_type}Content-Length: {}\r\nConnection: close\r\n\r\n",
        token,
        payload.len()
    )?;
    tcp.write_all(payload.as_bytes())?;
    let mut raw = Vec::new();
    tcp.take(16 << 20).read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").context("the admin API sent an incomplete answer")?;
    let code = head.split(' ').nth(1).and_then(|c| c.parse().ok()).context("the admin API sent no status code")?;
    let body = if body.is_empty() { Value::Null } else { serde_json::from_str(body).unwrap_or(Value::Null) };
    Ok((code, body))
}

/// Whether a server is running on `data_dir`: its `runtime.json` is there,
/// and its process is alive (Linux) or its admin API answers (elsewhere).
pub(super) fn server_running(data_dir: &Path) -> bool {
    let Ok(running) = crate::published::running(data_dir) else { return false };
    if cfg!(target_os = "linux") {
        return running.pid.is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
    }
    TcpStream::connect_timeout(&running.admin, Duration::from_secs(2)).is_ok()
}

pub(super) fn error_text(body: &Value) -> String {
    body["error"].as_str().unwrap_or("unexpected answer").to_string()
}

/// `mailroomd status`.
pub(super) fn status(data_dir: &Path) -> anyhow::Result<()> {
    let (code, s) = call(data_dir, "GET", "/api/v1/status")?;
    if code != 200 {
        bail!("{}", error_text(&s));
    }
    println!(
        "Mailroom {} on {}, running for {} min.",
        s["version"].as_str().unwrap_or("?"),
        s["hostname"].as_str().unwrap_or("?"),
        s["uptime_secs"].as_u64().unwrap_or(0) / 60
    );
    for l in s["listeners"].as_array().into_iter().flatten() {
        println!(
            "  {:<34} {:<24} {}",
            l["label"].as_str().unwrap_or(""),
            l["address"].as_str().unwrap_or(""),
            if l["running"].as_bool() == Some(true) { "running" } else { "stopped" }
        );
    }
    let c = &s["counts"];
    println!(
        "Domains: {}  Accounts: {}  Queued messages: {}",
        c["domains"].as_u64().unwrap_or(0),
        c["accounts"].as_u64().unwrap_or(0),
        c["queue"].as_u64().unwrap_or(0)
    );
    let warnings: Vec<&str> = s["warnings"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if warnings.is_empty() {
        println!("All is well.");
    }
    for w in warnings {
        println!("Warning: {w}");
    }
    Ok(())
}

/// `mailroomd listener stop|start NAME`.
pub(super) fn listener(data_dir: &Path, cmd: ListenerCmd) -> anyhow::Result<()> {
    let (verb, name) = match &cmd {
        ListenerCmd::Stop { name } => ("stop", name),
        ListenerCmd::Start { name } => ("start", name),
    };
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("there is no listener called \"{name}\"");
    }
    let (code, body) = call(data_dir, "POST", &format!("/api/v1/listeners/{name}/{verb}"))?;
    if code != 200 {
        bail!("{}", error_text(&body));
    }
    let l = &body["listener"];
    let state = if l["running"].as_bool() == Some(true) { "running" } else { "stopped" };
    let already = if body["changed"].as_bool() == Some(false) { " (it already was)" } else { "" };
    println!("{} on {} is {state}{already}.", l["label"].as_str().unwrap_or(name), l["address"].as_str().unwrap_or(""));
    Ok(())
}

//! What a running engine publishes in its data directory for the CLI and
//! the desktop app: `runtime.json` (its pid and the admin API's address)
//! and the local key `admin.token`.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context as _;
use serde_json::Value;

use crate::api::auth::TOKEN_FILE;
use crate::paths::RUNTIME_FILE;

/// The engine that wrote `runtime.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Running {
    /// Its process id.
    pub pid: Option<u64>,
    /// Where its admin API listens (an unspecified address given as this
    /// machine's loopback, so that it can be connected to on every OS).
    pub admin: SocketAddr,
}

/// Reads `runtime.json` of `data_dir` (it may be stale: the engine may have
/// ended without removing it).
pub fn running(data_dir: &Path) -> anyhow::Result<Running> {
    let text = std::fs::read_to_string(data_dir.join(RUNTIME_FILE)).context(
        "Mailroom is not running with this data directory (no runtime.json); start it with `mailroomd serve`",
    )?;
    let runtime: Value = serde_json::from_str(&text).context("runtime.json is damaged")?;
    let admin: SocketAddr = runtime["listeners"]["admin"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .context("runtime.json does not name the admin API's address")?;
    let admin = if admin.ip().is_unspecified() { SocketAddr::new([127, 0, 0, 1].into(), admin.port()) } else { admin };
    Ok(Running { pid: runtime["pid"].as_u64(), admin })
}

/// The local key in `admin.token`, without surrounding white space.
pub fn local_token(data_dir: &Path) -> anyhow::Result<String> {
    let token = std::fs::read_to_string(data_dir.join(TOKEN_FILE))
        .context("cannot read admin.token; run this as the account that runs Mailroom")?;
    Ok(token.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_pid_and_a_connectable_admin_address() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(running(dir.path()).is_err());
        std::fs::write(dir.path().join(RUNTIME_FILE), r#"{"pid": 42, "listeners": {"admin": "0.0.0.0:8080"}}"#)
            .expect("write");
        let r = running(dir.path()).expect("read");
        assert_eq!(r, Running { pid: Some(42), admin: "127.0.0.1:8080".parse().expect("addr") });
        std::fs::write(dir.path().join(TOKEN_FILE), "abc\n").expect("write");
        assert_eq!(local_token(dir.path()).expect("token"), "abc");
    }
}

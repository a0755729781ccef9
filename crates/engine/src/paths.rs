//! Where Mailroom keeps its data.

use std::path::PathBuf;

/// The per-OS application data directory (`~/.local/share/mailroom` on
/// Linux, `%APPDATA%\Mailroom\data` on Windows, `~/Library/Application
/// Support/org.Mailroom.Mailroom` on macOS), or `./mailroom-data` if the
/// OS gives none.
pub fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("org", "Mailroom", "Mailroom")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from("mailroom-data"))
}

/// File the running engine writes its pid and listener addresses to.
pub const RUNTIME_FILE: &str = "runtime.json";
/// Directory of the TLS certificate and key.
pub const TLS_DIR: &str = "tls";
/// Directory of the log files.
pub const LOG_DIR: &str = "logs";

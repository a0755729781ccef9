//! Tracing set-up: readable lines on stdout, JSON lines in rotating daily
//! files under `DIR/logs/` (14 days kept). `RUST_LOG` overrides the level.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

/// Logging for `serve`. Keep the guard alive until exit so buffered lines
/// are written.
pub fn init_server(data_dir: &Path) -> anyhow::Result<WorkerGuard> {
    let logs = data_dir.join(crate::paths::LOG_DIR);
    std::fs::create_dir_all(&logs)?;
    let appender = Builder::new()
        .rotation(Rotation::DAILY)
        .filename_prefix("mailroom")
        .filename_suffix("log")
        .max_log_files(14)
        .build(&logs)?;
    let (file_writer, guard) = tracing_appender::non_blocking(appender);
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
                .with_filter(filter()),
        )
        .with(tracing_subscriber::fmt::layer().json().with_writer(file_writer).with_filter(filter()))
        .try_init()
        .map_err(|e| anyhow::anyhow!("logging: {e}"))?;
    Ok(guard)
}

/// Logging for admin commands: warnings and errors on stderr only.
pub fn init_admin() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).with_env_filter(filter).try_init();
}

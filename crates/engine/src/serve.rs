//! `mailroomd serve`: open the store, bind every listener (the mail ports
//! and the admin API), write `admin.token` and `runtime.json`, serve until
//! SIGTERM/Ctrl+C.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::{Context as _, bail};
use mailroom_store::Store;
use mailroom_transport::tls;
use serde::Serialize;

use crate::backend::MailBackend;
use crate::config::Config;
use crate::listener_set::ListenerSet;
use crate::listeners::{ADMIN_LISTENER, ConnLimits, Context, LISTENERS, REMOTE_ADMIN_LISTENER, bind, explain};
use crate::paths::{RUNTIME_FILE, TLS_DIR};

/// How long sessions in the middle of a transaction may take to finish when
/// the server is asked to stop.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

/// Message files without a database row are deleted only once they are this
/// old: a delivery in progress writes its file a moment before committing it.
pub const ORPHAN_MIN_AGE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on.
    pub bind: IpAddr,
    /// Added to every standard port.
    pub port_offset: u16,
    /// Address of the admin API (loopback unless chosen otherwise).
    pub admin_bind: IpAddr,
    /// How the admin commands should be written in hints (with `--data-dir` if given).
    pub cli_hint: String,
}

#[derive(Serialize)]
struct RuntimeInfo {
    pid: u32,
    data_dir: PathBuf,
    started_at: String,
    version: &'static str,
    listeners: BTreeMap<&'static str, SocketAddr>,
}

/// Runs the engine in the foreground until it is told to stop.
pub fn run(data_dir: &Path, opts: ServeOptions) -> anyhow::Result<()> {
    let _log_guard = crate::logging::init_server(data_dir)?;
    check_not_running(data_dir)?;
    let store =
        Arc::new(Store::open(data_dir).with_context(|| format!("opening the data directory {}", data_dir.display()))?);
    // The key that seals stored secrets; a lost one is a plain error here, at start.
    let secrets = crate::secrets::SecretBox::for_store(&store)?;
    crate::domains::seal_plain_dkim_keys(&store, &secrets)?;
    let live = Arc::new(crate::live::Live::load(&store)?);
    let config = live.config();
    store.sweep_orphans(ORPHAN_MIN_AGE)?;
    let tls_dir = data_dir.join(TLS_DIR);
    tls::ensure_self_signed(&tls_dir, &config.hostname).context("creating the TLS certificate")?;
    // One acceptor for every listener; it asks `live_cert` at each handshake,
    // so a certificate changed through the admin API applies without a restart.
    let live_cert = tls::LiveCert::new(tls::load(&tls_dir)?);
    let acceptor = live_cert.acceptor()?;
    let certificate = Arc::new(crate::certificate::Certificates::new(tls_dir.clone(), Some(live_cert)));

    let mut sockets = Vec::new();
    let mut problems = Vec::new();
    let mut failed = Vec::new();
    for spec in LISTENERS {
        let port = spec.port.checked_add(opts.port_offset).filter(|p| *p > 0);
        let Some(port) = port else {
            problems.push(format!("--port-offset {} pushes {} past port 65535", opts.port_offset, spec.label));
            continue;
        };
        match bind(SocketAddr::new(opts.bind, port), spec) {
            Ok(l) => sockets.push((*spec, l)),
            Err(e) => failed.push(e),
        }
    }
    let mut admin_socket = None;
    match ADMIN_LISTENER.port.checked_add(opts.port_offset) {
        Some(port) => match bind(SocketAddr::new(opts.admin_bind, port), &ADMIN_LISTENER) {
            Ok(l) => admin_socket = Some(l),
            Err(e) => failed.push(e),
        },
        None => problems
            .push(format!("--port-offset {} pushes the {} past port 65535", opts.port_offset, ADMIN_LISTENER.label)),
    }
    problems.extend(explain(&failed));
    if !problems.is_empty() {
        for p in &problems {
            tracing::error!("{p}");
        }
        bail!("Mailroom could not start:\n  {}", problems.join("\n  "));
    }

    let Some(admin_socket) = admin_socket else { bail!("Mailroom could not start: no admin API listener") };
    let local_token = crate::api::auth::write_token_file(data_dir).context("writing the admin token file")?;
    let started = std::time::Instant::now();
    let started_at = chrono::Utc::now().to_rfc3339();

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("mailroom").build()?;
    runtime.block_on(async move {
        let queue_notify = Arc::new(tokio::sync::Notify::new());
        let backend = Arc::new(MailBackend::new(store.clone(), live.clone(), queue_notify.clone()));
        let api_backend = backend.clone();
        let stats = backend.stats().clone();
        let deliverer = Arc::new(crate::delivery::Deliverer::new(
            store.clone(),
            live.clone(),
            secrets,
            queue_notify,
            stats.clone(),
        )?);
        let stats_task = tokio::spawn(stats.clone().run(store.clone()));
        let (trigger, shutdown) = mailroom_transport::shutdown_channel();
        let ctx = Arc::new(Context {
            backend,
            tls: acceptor.clone(),
            limits: ConnLimits::with_shares(
                config.max_connections,
                config.max_connections_per_ip,
                config.max_connections_per_protocol,
                config.ipv6_client_prefix,
            ),
            next_session: AtomicU64::new(1),
            shutdown,
        });
        let mail_listeners = Arc::new(ListenerSet::new(ctx.clone()));
        let mut listeners = BTreeMap::new();
        for (spec, std_listener) in sockets {
            let addr = mail_listeners.add(spec, std_listener)?;
            listeners.insert(spec.name, addr);
        }
        let admin_listener = tokio::net::TcpListener::from_std(admin_socket)?;
        let admin_addr = admin_listener.local_addr()?;
        listeners.insert(ADMIN_LISTENER.name, admin_addr);
        let remote_port = REMOTE_ADMIN_LISTENER.port.saturating_add(opts.port_offset);
        let api = Arc::new(crate::api::Api {
            backend: api_backend,
            data_dir: data_dir.to_path_buf(),
            local_token,
            sessions: crate::api::auth::Sessions::default(),
            origins: crate::api::auth::own_origins(admin_addr),
            started,
            started_at: started_at.clone(),
            listeners: mail_listeners.clone(),
            admin_address: admin_addr,
            remote: crate::api::remote::RemoteAdmin::new(opts.bind, remote_port, acceptor),
            certificate,
        });
        tracing::info!(listener = ADMIN_LISTENER.name, address = %admin_addr, "listening");
        let admin_task = tokio::spawn(crate::api::serve(admin_listener, api.clone()));
        let watcher = tokio::spawn(crate::watch::run(api.clone()));
        let delivery = tokio::spawn(deliverer.run(ctx.shutdown.clone()));
        let info = RuntimeInfo {
            pid: std::process::id(),
            data_dir: data_dir.to_path_buf(),
            started_at,
            version: env!("CARGO_PKG_VERSION"),
            listeners: listeners.clone(),
        };
        write_runtime(data_dir, &info)?;
        print_banner(data_dir, &store, &config, &listeners, &opts.cli_hint);
        print_web_ui(admin_addr, &api.local_token);
        if config.admin_remote_access {
            println!("  {:<40} https://{}", REMOTE_ADMIN_LISTENER.label, api.remote.address());
        }
        wait_for_shutdown().await;
        // Stop taking connections, tell idle sessions, and give the ones in the
        // middle of a message time to finish it, so that no client is left
        // without the reply to a message that was stored.
        mail_listeners.stop_all();
        admin_task.abort();
        watcher.abort();
        api.remote.sync(false, &api);
        trigger.fire();
        let open = ctx.limits.open();
        tracing::info!(open_connections = open, "stopping");
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while ctx.limits.open() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        if ctx.limits.open() > 0 {
            tracing::warn!(open_connections = ctx.limits.open(), "stopping with sessions still open");
        }
        // Deliveries in progress are recorded before exit, so nothing is sent twice.
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if tokio::time::timeout(left.max(std::time::Duration::from_secs(5)), delivery).await.is_err() {
            tracing::warn!("stopping with deliveries still in progress; they will be retried");
        }
        // The last counts of the statistics, after the last deliveries.
        stats_task.abort();
        let flushed = tokio::task::block_in_place(|| stats.flush(&store));
        if let Err(e) = flushed {
            tracing::warn!(error = %e, "could not save the last statistics");
        }
        let _ = std::fs::remove_file(data_dir.join(RUNTIME_FILE));
        anyhow::Ok(())
    })?;
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    Ok(())
}

fn check_not_running(data_dir: &Path) -> anyhow::Result<()> {
    let path = data_dir.join(RUNTIME_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let pid = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v["pid"].as_u64());
    if let Some(pid) = pid
        && cfg!(target_os = "linux")
        && Path::new(&format!("/proc/{pid}")).exists()
        && pid != u64::from(std::process::id())
    {
        bail!("Mailroom is already running on {} (process {pid}); stop it first", data_dir.display());
    }
    Ok(())
}

fn write_runtime(data_dir: &Path, info: &RuntimeInfo) -> anyhow::Result<()> {
    let tmp = data_dir.join(format!("{RUNTIME_FILE}.tmp"));
    mailroom_store::private_fs::write_file(&tmp, &serde_json::to_vec_pretty(info)?)?;
    std::fs::rename(&tmp, data_dir.join(RUNTIME_FILE))?;
    Ok(())
}

fn print_banner(
    data_dir: &Path,
    store: &Store,
    config: &Config,
    listeners: &BTreeMap<&'static str, SocketAddr>,
    cli: &str,
) {
    let mut out = format!(
        "Mailroom {} is running as {}.\nData directory: {}\n",
        env!("CARGO_PKG_VERSION"),
        config.hostname,
        data_dir.display()
    );
    for spec in LISTENERS.iter().chain([&ADMIN_LISTENER]) {
        if let Some(addr) = listeners.get(spec.name) {
            out.push_str(&format!("  {:<40} {}\n", spec.label, addr));
        }
    }
    let domains = store.list_domains().unwrap_or_default();
    if domains.is_empty() {
        out.push_str(&format!(
            "No domains yet. Add your domain and a first mailbox:\n  {cli} domain add example.com\n  {cli} account add alice@example.com --password 'choose-a-password'\n"
        ));
    } else {
        let names: Vec<&str> = domains.iter().map(|d| d.name.as_str()).collect();
        out.push_str(&format!(
            "Domains: {}\nAdd a mailbox:  {cli} account add name@{} --password '...'\n",
            names.join(", "),
            names[0]
        ));
    }
    out.push_str("Stop with Ctrl+C.");
    println!("{out}");
}

/// Where to open the web interface. On a terminal the link carries the local
/// token (in the part after `#`, which browsers never send anywhere), so the
/// person who started the server is logged in at once; in a service's log
/// it does not.
fn print_web_ui(admin: SocketAddr, token: &str) {
    let host = if admin.ip().is_unspecified() { SocketAddr::new([127, 0, 0, 1].into(), admin.port()) } else { admin };
    if !crate::api::ui::available() {
        println!("Web interface: not in this build (build it with scripts/build-ui, then mailroomd again).");
    } else if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        println!("Web interface: http://{host}/#token={token}");
    } else {
        println!(
            "Web interface: http://{host}/ (log in with the admin password; set it with `mailroomd admin-password`)"
        );
    }
}

async fn wait_for_shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

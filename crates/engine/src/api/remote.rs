//! Remote administration: the admin API on the server's public address,
//! over HTTPS only, opened and closed at once when the
//! `admin_remote_access` setting changes.
//!
//! It uses the mail certificate. Each connection's TLS handshake runs in its
//! own task with a time limit, so a slow client cannot hold up others; the
//! IP filter (protocol `admin`) and the connection limits
//! ([`super::remote_conns`]: per address, in total) are applied before the
//! handshake, and a connection without a request in progress is closed
//! after `admin_idle_timeout`. Logins are throttled per address like every
//! other login, and cross-site requests are refused by the origin check
//! ([`super::auth`]), which on this listener accepts only `https://` plus
//! the `Host` the browser asked for.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::ApiState;
use super::remote_conns::{self, ConnCounts};
use crate::listeners::ConnLimits;

/// Standard port of remote administration (the `--port-offset` is added).
pub const REMOTE_ADMIN_PORT: u16 = 8443;

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Handshakes one address may have in progress at once, so that one host
/// cannot take every slot.
const HANDSHAKES_PER_IP: usize = 4;

/// Handshakes in progress at once; more wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 64;

/// Who sent an admin API request, and over which listener.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// Client address.
    pub addr: SocketAddr,
    /// It came over the remote HTTPS listener.
    pub remote: bool,
}

impl Connected<IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Self { addr: *stream.remote_addr(), remote: false }
    }
}

/// Accepts TCP connections, applies the IP filter and the connection
/// limits, runs handshakes and serves the API on each connection.
async fn accept_loop(tcp: TcpListener, tls: TlsAcceptor, state: ApiState) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    // The total is the semaphore above (accepting waits for a slot); this counts per address.
    let per_ip = ConnLimits::new(usize::MAX, HANDSHAKES_PER_IP);
    let counts = Arc::new(ConnCounts::default());
    let app = super::router(state.clone());
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else { return };
        let (stream, peer) = match tcp.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(listener = "admin_remote", error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let verdict = state.backend.live().ip_rules().check(peer.ip(), "admin");
        if !verdict.allowed {
            tracing::warn!(peer = %peer, listener = "admin_remote", rule = verdict.rule, "connection refused by the IP filter");
            continue;
        }
        let config = state.backend.live().config();
        let pass = match counts.acquire(peer.ip(), config.admin_max_connections, config.admin_max_connections_per_ip) {
            Ok(pass) => pass,
            Err(refusal) => {
                tracing::warn!(
                    peer = %peer,
                    listener = "admin_remote",
                    limit = refusal.setting(),
                    open = counts.open(),
                    "admin connection refused: too many connections"
                );
                continue;
            }
        };
        let Some(ip_slot) = per_ip.acquire(peer.ip()) else {
            tracing::info!(peer = %peer, "admin TLS handshake refused: too many at once from this address");
            continue;
        };
        let tls = tls.clone();
        let app = app.clone();
        let idle = config.admin_idle_timeout;
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await;
            // The handshake slots are for handshakes only; the connection keeps its pass.
            drop(permit);
            drop(ip_slot);
            match handshake {
                Ok(Ok(conn)) => remote_conns::serve(conn, peer, app, idle, pass).await,
                Ok(Err(e)) => tracing::info!(peer = %peer, error = %e, "admin TLS handshake failed"),
                Err(_) => tracing::info!(peer = %peer, "admin TLS handshake timed out"),
            }
        });
    }
}

/// The remote listener's place: where it would listen, and its tasks when open.
pub struct RemoteAdmin {
    address: SocketAddr,
    tls: TlsAcceptor,
    open: Mutex<Option<Vec<tokio::task::AbortHandle>>>,
    /// True while open; requests and event streams over the remote listener
    /// end when it turns false.
    state: tokio::sync::watch::Sender<bool>,
    /// The last failure to open was logged (not repeated every check).
    failed: std::sync::atomic::AtomicBool,
}

impl RemoteAdmin {
    /// Remote administration on `bind`:`port`, closed until [`Self::sync`] opens it.
    pub fn new(bind: IpAddr, port: u16, tls: TlsAcceptor) -> Self {
        Self {
            address: SocketAddr::new(bind, port),
            tls,
            open: Mutex::new(None),
            state: tokio::sync::watch::channel(false).0,
            failed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The address it listens on when open.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Follows whether it is open (true) or closed (false).
    pub fn watch(&self) -> tokio::sync::watch::Receiver<bool> {
        self.state.subscribe()
    }

    fn log_failure(&self, why: &str) {
        if !self.failed.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tracing::error!(listener = "admin_remote", error = %why, "remote administration could not start");
        }
    }

    /// Whether it is open.
    pub fn is_open(&self) -> bool {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|tasks| tasks.iter().all(|t| !t.is_finished()))
    }

    /// Opens or closes the listener to match `wanted`. Failing to open is
    /// logged (and retried at the next call).
    pub fn sync(&self, wanted: bool, state: &ApiState) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        match (wanted, open.is_some()) {
            (true, false) => {
                let spec = crate::listeners::REMOTE_ADMIN_LISTENER;
                let socket = match crate::listeners::bind(self.address, &spec) {
                    Ok(s) => s,
                    Err(e) => {
                        self.log_failure(&crate::listeners::explain(&[e]).join(" "));
                        return;
                    }
                };
                let tcp = match TcpListener::from_std(socket) {
                    Ok(t) => t,
                    Err(e) => {
                        self.log_failure(&e.to_string());
                        return;
                    }
                };
                let accept = tokio::spawn(accept_loop(tcp, self.tls.clone(), state.clone()));
                *open = Some(vec![accept.abort_handle()]);
                self.failed.store(false, std::sync::atomic::Ordering::Relaxed);
                self.state.send_replace(true);
                tracing::info!(listener = spec.name, address = %self.address, change = "listener", "remote administration open (HTTPS)");
            }
            (false, true) => {
                for task in open.take().into_iter().flatten() {
                    task.abort();
                }
                // Connections already open refuse further requests and end their event streams.
                self.state.send_replace(false);
                tracing::info!(listener = "admin_remote", address = %self.address, change = "listener", "remote administration closed");
            }
            (false, false) => self.failed.store(false, std::sync::atomic::Ordering::Relaxed),
            _ => {}
        }
    }
}

//! Connections of remote administration once their TLS handshake is done:
//! how many one address and everyone together may hold open
//! (`admin_max_connections_per_ip`, `admin_max_connections`), and serving
//! each one with hyper so that a connection waiting for a request is closed
//! after `admin_idle_timeout`.
//!
//! The idle limit is hyper's header read timeout, which runs whenever the
//! connection waits for the head of a request: from the handshake to the
//! first request, and between requests on a kept-alive connection. It is not
//! running while a request is read or answered, so a long answer (the event
//! stream) is never cut short.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use super::remote::Peer;

/// Which limit refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `admin_max_connections_per_ip`.
    PerIp,
    /// `admin_max_connections`.
    Total,
}

impl Refusal {
    /// The setting behind it, for the log.
    pub fn setting(self) -> &'static str {
        match self {
            Self::PerIp => "admin_max_connections_per_ip",
            Self::Total => "admin_max_connections",
        }
    }
}

/// Open remote administration connections, in total and per address. The
/// limits are passed at each acquisition, so a changed setting applies to
/// the next connection.
#[derive(Default)]
pub struct ConnCounts {
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One counted connection; given back on drop.
pub struct ConnPass {
    counts: Arc<ConnCounts>,
    ip: IpAddr,
}

impl ConnCounts {
    /// Counts a new connection from `ip`, unless a limit is reached.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr, max_total: usize, max_per_ip: usize) -> Result<ConnPass, Refusal> {
        let mut g = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let per_ip = g.1.get(&ip).copied().unwrap_or(0);
        if per_ip >= max_per_ip {
            return Err(Refusal::PerIp);
        }
        if g.0 >= max_total {
            return Err(Refusal::Total);
        }
        g.0 += 1;
        g.1.insert(ip, per_ip + 1);
        Ok(ConnPass { counts: self.clone(), ip })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).0
    }
}

impl Drop for ConnPass {
    fn drop(&mut self) {
        let mut g = self.counts.open.lock().unwrap_or_else(|p| p.into_inner());
        g.0 = g.0.saturating_sub(1);
        if let Some(n) = g.1.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                g.1.remove(&self.ip);
            }
        }
    }
}

/// Serves the API on one connection until the client or the idle limit ends it.
pub async fn serve(conn: TlsStream<TcpStream>, peer: SocketAddr, app: Router, idle: Duration, pass: ConnPass) {
    let info = ConnectInfo(Peer { addr: peer, remote: true });
    let service = tower::ServiceExt::map_request(app, move |mut req: axum::http::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(info);
        req
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(idle).keep_alive(true);
    let result = builder.serve_connection(TokioIo::new(conn), TowerToHyperService::new(service)).await;
    match result {
        Err(e) if e.is_timeout() => tracing::info!(
            peer = %peer,
            listener = "admin_remote",
            idle_secs = idle.as_secs(),
            limit = "admin_idle_timeout",
            "admin connection closed: no request within the idle time"
        ),
        Err(e) => tracing::debug!(peer = %peer, listener = "admin_remote", error = %e, "admin connection ended"),
        Ok(()) => {}
    }
    drop(pass);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_address_and_in_total() {
        let counts = Arc::new(ConnCounts::default());
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        let first = counts.acquire(a, 3, 2).expect("first");
        let _second = counts.acquire(a, 3, 2).expect("second");
        assert_eq!(counts.acquire(a, 3, 2).err(), Some(Refusal::PerIp));
        let _third = counts.acquire(b, 3, 2).expect("other address");
        assert_eq!(counts.acquire(b, 3, 2).err(), Some(Refusal::Total));
        drop(first);
        assert_eq!(counts.open(), 2);
        assert!(counts.acquire(a, 3, 2).is_ok(), "a slot given back is free again");
    }
}

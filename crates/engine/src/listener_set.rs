//! The running mail listeners: one accept task per port, which the admin API
//! can stop (the port is closed; sessions already open carry on) and start
//! again on the same address while the server runs.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;

use crate::listeners::{Context, ListenerSpec, accept_loop, bind, explain};

/// A listener as the status shows it.
#[derive(Debug, Clone)]
pub struct ListenerState {
    /// Name as in `runtime.json`.
    pub name: &'static str,
    /// What a person would call it.
    pub label: &'static str,
    /// Its address.
    pub address: SocketAddr,
    /// Whether it accepts connections.
    pub running: bool,
}

/// Why a start or stop did not happen.
#[derive(Debug)]
pub enum ListenerError {
    /// No listener by that name.
    Unknown(String),
    /// Starting failed; the text says why in plain words.
    Bind(String),
}

impl std::fmt::Display for ListenerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown(m) | Self::Bind(m) => f.write_str(m),
        }
    }
}

struct Entry {
    spec: ListenerSpec,
    address: SocketAddr,
    task: Option<JoinHandle<()>>,
}

/// Every mail listener, started or stopped.
pub struct ListenerSet {
    ctx: Arc<Context>,
    entries: Mutex<Vec<Entry>>,
}

impl ListenerSet {
    /// An empty set whose listeners will hand connections to `ctx`.
    pub fn new(ctx: Arc<Context>) -> Self {
        Self { ctx, entries: Mutex::new(Vec::new()) }
    }

    /// Starts accepting on a socket bound at start-up; returns its address.
    pub fn add(&self, spec: ListenerSpec, socket: std::net::TcpListener) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::from_std(socket)?;
        let address = listener.local_addr()?;
        tracing::info!(listener = spec.name, address = %address, "listening");
        let task = tokio::spawn(accept_loop(listener, spec, self.ctx.clone()));
        self.lock().push(Entry { spec, address, task: Some(task) });
        Ok(address)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every listener and whether it runs.
    pub fn states(&self) -> Vec<ListenerState> {
        self.lock()
            .iter()
            .map(|e| ListenerState {
                name: e.spec.name,
                label: e.spec.label,
                address: e.address,
                running: e.task.as_ref().is_some_and(|t| !t.is_finished()),
            })
            .collect()
    }

    /// Stops accepting on `name` and closes its port (it is closed when this
    /// returns). Returns false if it was already stopped.
    pub async fn stop(&self, name: &str) -> Result<bool, ListenerError> {
        let (task, address) = {
            let mut entries = self.lock();
            let entry = entries
                .iter_mut()
                .find(|e| e.spec.name == name)
                .ok_or_else(|| ListenerError::Unknown(format!("there is no listener called \"{name}\"")))?;
            (entry.task.take(), entry.address)
        };
        let Some(task) = task.filter(|t| !t.is_finished()) else { return Ok(false) };
        task.abort();
        // Wait until the task (and with it the socket) is gone, so a start right after can bind again.
        let _ = task.await;
        tracing::warn!(listener = name, address = %address, notify = "listener_stopped", change = "listener", "listener stopped by the admin");
        Ok(true)
    }

    /// Opens `name` again on its address. Returns false if it was running.
    pub fn start(&self, name: &str) -> Result<bool, ListenerError> {
        let mut entries = self.lock();
        let entry = entries
            .iter_mut()
            .find(|e| e.spec.name == name)
            .ok_or_else(|| ListenerError::Unknown(format!("there is no listener called \"{name}\"")))?;
        if entry.task.as_ref().is_some_and(|t| !t.is_finished()) {
            return Ok(false);
        }
        let socket = bind(entry.address, &entry.spec).map_err(|e| ListenerError::Bind(explain(&[e]).join(" ")))?;
        let listener = tokio::net::TcpListener::from_std(socket)
            .map_err(|e| ListenerError::Bind(format!("could not listen on {}: {e}", entry.address)))?;
        entry.task = Some(tokio::spawn(accept_loop(listener, entry.spec, self.ctx.clone())));
        tracing::info!(listener = name, address = %entry.address, change = "listener", "listener started by the admin");
        Ok(true)
    }

    /// Stops every listener (at shutdown).
    pub fn stop_all(&self) {
        for e in self.lock().iter_mut() {
            if let Some(task) = e.task.take() {
                task.abort();
            }
        }
    }
}

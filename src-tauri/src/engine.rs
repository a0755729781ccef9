//! Finding the mail server: attach to one already running on the data
//! directory (an installed service, or one started by hand), or start
//! `mailroomd serve` as a child process and stop it when the app quits.
//!
//! Invariants: the app never starts a second engine on a data directory whose
//! engine answers; a child is stopped with SIGTERM (the engine's graceful
//! shutdown, which finishes what it acknowledged) and only killed if it has
//! not ended 30 s later.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use mailroom_engine::published;

use crate::client::Client;

/// How long a starting engine may take to answer.
const START_LIMIT: Duration = Duration::from_secs(60);
/// How long a stopping engine may take before it is killed.
const STOP_LIMIT: Duration = Duration::from_secs(30);

/// Where to find or how to start the engine.
#[derive(Clone, Debug)]
pub struct Launch {
    /// The engine's data directory.
    pub data_dir: PathBuf,
    /// The `mailroomd` program.
    pub program: PathBuf,
    /// Extra arguments for `mailroomd serve`.
    pub serve_args: Vec<String>,
}

/// What the app is waiting for, for the start page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Looking for a running server.
    Looking,
    /// Started `mailroomd`, waiting for it to answer.
    Starting,
}

/// A connected engine.
pub struct Engine {
    /// Its admin API.
    pub client: Client,
    child: Option<Child>,
}

impl Engine {
    /// Attaches to the engine running on `launch.data_dir`, or starts one.
    /// `cancel` (the app is quitting) stops a child that is still starting.
    pub fn connect(launch: &Launch, progress: &dyn Fn(Stage), cancel: &AtomicBool) -> anyhow::Result<Engine> {
        progress(Stage::Looking);
        if let Some(client) = attach(&launch.data_dir) {
            tracing::info!(data_dir = %launch.data_dir.display(), "attached to the running mail server");
            return Ok(Engine { client, child: None });
        }
        if let Ok(addr) = published::running(&launch.data_dir).map(|r| r.admin)
            && TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
        {
            // A server answers there, but not to this account's key: a service
            // run by another account. Starting a second one would only fight it.
            bail!(
                "A Mailroom server is already running on {} (admin address {addr}), but this account cannot manage it: \
                 its admin.token is not readable here. Run this app as the account that runs the server, or open \
                 http://{addr}/ in a browser and log in with the admin password.",
                launch.data_dir.display()
            );
        }
        progress(Stage::Starting);
        Self::start(launch, cancel)
    }

    fn start(launch: &Launch, cancel: &AtomicBool) -> anyhow::Result<Engine> {
        let mut cmd = Command::new(&launch.program);
        cmd.arg("--data-dir").arg(&launch.data_dir).arg("serve").args(&launch.serve_args);
        cmd.stdin(Stdio::null()).stdout(Stdio::inherit()).stderr(Stdio::piped());
        #[cfg(windows)]
        {
            // No console window for the server behind the app.
            use std::os::windows::process::CommandExt as _;
            const CREATE_NO_WINDOW: u32 = 0x0800_0000;
            cmd.creation_flags(CREATE_NO_WINDOW);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}: is Mailroom installed?", launch.program.display()))?;
        tracing::info!(pid = child.id(), program = %launch.program.display(), "started the mail server");
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = child.stderr.take() {
            let tail = tail.clone();
            std::thread::spawn(move || relay_stderr(stderr, &tail));
        }
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if let Some(exit) = child.try_wait()? {
                std::thread::sleep(Duration::from_millis(200));
                let said: Vec<String> = tail.lock().map(|t| t.iter().cloned().collect()).unwrap_or_default();
                bail!("mailroomd ended ({exit}):\n{}", said.join("\n"));
            }
            if let Some(client) = running(&launch.data_dir, Some(child.id())) {
                return Ok(Engine { client, child: Some(child) });
            }
            if cancel.load(Ordering::SeqCst) {
                stop_child(child);
                bail!("the app is quitting");
            }
            if Instant::now() > deadline {
                stop_child(child);
                bail!("mailroomd did not answer within {} s", START_LIMIT.as_secs());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// An engine the app found running (it is not stopped on Quit).
    pub fn attached(client: Client) -> Engine {
        Engine { client, child: None }
    }

    /// Whether the app started this engine (and so stops it on quit).
    pub fn is_child(&self) -> bool {
        self.child.is_some()
    }

    /// Whether a child engine has ended on its own.
    pub fn child_ended(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
    }

    /// Stops the engine if the app started it; an attached one is left
    /// running.
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            stop_child(child);
        }
    }
}

/// Ends a child engine the clean way (SIGTERM), waiting up to 30 s before
/// killing it.
fn stop_child(mut child: Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    terminate(&mut child);
    let deadline = Instant::now() + STOP_LIMIT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            tracing::info!(%status, "the mail server stopped");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    tracing::warn!("the mail server did not stop within 30 s; ending it");
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A client of the engine serving `data_dir` now, if one answers to this
/// account's key (read afresh: an engine writes a new key at every start).
pub fn attach(data_dir: &Path) -> Option<Client> {
    running(data_dir, None)
}

/// A client of the engine serving `data_dir`, if one answers (and, when
/// `pid` is given, if it is that process).
fn running(data_dir: &Path, pid: Option<u32>) -> Option<Client> {
    let running = published::running(data_dir).ok()?;
    if let Some(pid) = pid
        && running.pid != Some(u64::from(pid))
    {
        return None;
    }
    let client = Client::new(running.admin, &published::local_token(data_dir).ok()?);
    client.get("/api/v1/status").ok()?;
    Some(client)
}

/// Copies the child's error output to ours, keeping its last lines for the
/// start page should the child end.
fn relay_stderr(stderr: std::process::ChildStderr, tail: &Mutex<VecDeque<String>>) {
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        eprintln!("{line}");
        if let Ok(mut t) = tail.lock() {
            if t.len() == 12 {
                t.pop_front();
            }
            t.push_back(line);
        }
    }
}

#[cfg(unix)]
fn terminate(child: &mut Child) {
    let pid = i32::try_from(child.id()).ok().and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
}

#[cfg(not(unix))]
fn terminate(child: &mut Child) {
    // Windows has no SIGTERM for a console-less child. The engine
    // acknowledges mail only once it is on disk, so ending it loses nothing
    // acknowledged.
    let _ = child.kill();
}

/// The `mailroomd` program: next to this app, else on the PATH.
pub fn default_program() -> PathBuf {
    let name = if cfg!(windows) { "mailroomd.exe" } else { "mailroomd" };
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(name)))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

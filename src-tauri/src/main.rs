//! Mailroom desktop app: a thin shell around the engine. It finds the mail
//! server (attaches to a running one, or starts `mailroomd serve` as a child
//! and stops it on Quit), shows the admin web interface the engine serves in
//! its window, keeps a tray icon with the server's state, and turns the
//! engine's notification events into desktop notifications. It talks to the
//! engine only through the admin API, like the CLI and a remote browser.
//!
//! Invariants: closing the window hides it (mail never stops because a
//! window closed); only Quit ends the app, and it stops the engine only if
//! the app started it.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod client;
mod engine;
mod notify;
mod text;
mod tray;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use tauri::{AppHandle, Manager, RunEvent, WebviewUrl, WebviewWindow, WebviewWindowBuilder, WindowEvent};

use crate::client::Client;
use crate::engine::{Engine, Launch, Stage};
use crate::text::Lang;
use crate::tray::Tray;

/// Command line of the desktop app.
#[derive(Parser, Debug)]
#[command(name = "mailroom-desktop", version, about = "Mailroom desktop app: window, tray icon and notifications")]
struct Args {
    /// The mail server's data directory (default: the same as mailroomd's).
    #[arg(long, env = "MAILROOM_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The mailroomd program to start when no server is running (default:
    /// the one next to this app, else on the PATH).
    #[arg(long, env = "MAILROOMD")]
    engine: Option<PathBuf>,
    /// Start with the window hidden (only the tray icon).
    #[arg(long)]
    hidden: bool,
    /// Arguments for `mailroomd serve` when the app starts the server, after `--`.
    #[arg(last = true)]
    serve_args: Vec<String>,
}

/// What the app's threads share.
struct Shared {
    launch: Launch,
    lang: Lang,
    engine: Mutex<Option<Engine>>,
    client: Mutex<Option<Client>>,
    tray: Mutex<Option<Tray>>,
    /// A connection attempt is under way (one at a time, so one child at most).
    connecting: AtomicBool,
    /// Quit was chosen: no new connection or action starts.
    quitting: AtomicBool,
}

impl Shared {
    fn client(&self) -> Option<Client> {
        self.client.lock().ok().and_then(|c| c.clone())
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let launch = Launch {
        data_dir: args.data_dir.clone().unwrap_or_else(mailroom_engine::paths::default_data_dir),
        program: args.engine.clone().unwrap_or_else(engine::default_program),
        serve_args: args.serve_args.clone(),
    };
    let shared = Arc::new(Shared {
        launch,
        lang: Lang::from_system(),
        engine: Mutex::new(None),
        client: Mutex::new(None),
        tray: Mutex::new(None),
        connecting: AtomicBool::new(false),
        quitting: AtomicBool::new(false),
    });
    let hidden = args.hidden;
    let setup_shared = shared.clone();
    let app = tauri::Builder::default()
        // Starting the app again (from the menu, say) shows the window of the
        // one already running, which also helps where no tray icon shows.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| show_window(app)))
        .plugin(tauri_plugin_notification::init())
        .setup(move |app| {
            let shared = setup_shared.clone();
            WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into()))
                .on_navigation(allowed_in_window)
                .title("Mailroom")
                .inner_size(1280.0, 840.0)
                .min_inner_size(900.0, 600.0)
                .visible(!hidden)
                .build()?;
            let choice_shared = shared.clone();
            let tray = Tray::build(app.handle(), shared.lang, move |app, id| on_choice(app, &choice_shared, id))?;
            if let Ok(mut t) = shared.tray.lock() {
                *t = Some(tray);
            }
            let handle = app.handle().clone();
            let s = shared.clone();
            std::thread::spawn(move || connect(&handle, &s));
            let handle = app.handle().clone();
            let s = shared.clone();
            std::thread::spawn(move || monitor(&handle, &s));
            let handle = app.handle().clone();
            let s = shared.clone();
            std::thread::spawn(move || notify::follow(&handle, s.lang, || s.client()));
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                let _ = window.hide();
                tracing::info!("window hidden to the tray");
            }
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "Mailroom cannot open its window");
            std::process::exit(1);
        }
    };
    app.run(move |_app, event| {
        if let RunEvent::Exit = event {
            stop_engine(&shared);
        }
    });
}

/// The window shows only the app's start page and the engine's interface on
/// this computer; anything else (a link in a message, injected content) is
/// refused, so the page holding the local key cannot be navigated away.
fn allowed_in_window(url: &tauri::Url) -> bool {
    let host = url.host_str().unwrap_or("");
    let ok = match url.scheme() {
        "tauri" => host == "localhost",
        "http" | "https" => {
            host == "tauri.localhost"
                || host == "localhost"
                || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    };
    if !ok {
        tracing::warn!(%url, "navigation away from Mailroom refused");
    }
    ok
}

fn show_window(app: &AppHandle) {
    if let Some(w) = main_window(app) {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

fn main_window(app: &AppHandle) -> Option<WebviewWindow> {
    app.get_webview_window("main")
}

/// Shows the app's own start page in the window, in `state` (starting,
/// stopped): a full navigation, so nothing of the engine's page (requests
/// with an old key) outlives the engine it belonged to.
fn start_page(app: &AppHandle, state: &str) {
    let base = if cfg!(windows) { "http://tauri.localhost" } else { "tauri://localhost" };
    if let (Some(w), Ok(url)) = (main_window(app), tauri::Url::parse(&format!("{base}/index.html#{state}"))) {
        let _ = w.navigate(url);
    }
}

/// Tells the start page what is happening (`state`: starting, waiting, error).
fn splash(app: &AppHandle, state: &str, detail: &str) {
    if let Some(w) = main_window(app) {
        let detail = serde_json::to_string(detail).unwrap_or_else(|_| "\"\"".into());
        let _ = w.eval(format!("window.mailroomShow && window.mailroomShow('{state}', {detail})"));
    }
}

/// Finds or starts the engine, then shows its web interface in the window.
fn connect(app: &AppHandle, shared: &Shared) {
    if shared.quitting.load(Ordering::SeqCst) || shared.connecting.swap(true, Ordering::SeqCst) {
        return;
    }
    connect_once(app, shared);
    shared.connecting.store(false, Ordering::SeqCst);
}

fn connect_once(app: &AppHandle, shared: &Shared) {
    let progress = |stage: Stage| {
        splash(
            app,
            match stage {
                Stage::Looking => "waiting",
                Stage::Starting => "starting",
            },
            "",
        )
    };
    match Engine::connect(&shared.launch, &progress, &shared.quitting) {
        Ok(mut engine) if shared.quitting.load(Ordering::SeqCst) => engine.stop(),
        Ok(engine) => {
            tracing::info!(child = engine.is_child(), "connected to the mail server");
            use_engine(app, shared, engine);
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "the mail server did not start");
            splash(app, "error", &format!("{e:#}"));
            // The tray says so and offers Start server to try again.
            refresh(shared);
        }
    }
}

/// Makes `engine` the one the app shows, and the window show its interface.
fn use_engine(app: &AppHandle, shared: &Shared, engine: Engine) {
    let client = engine.client.clone();
    let old = shared.engine.lock().ok().and_then(|mut e| e.replace(engine));
    drop(old); // an attached engine: nothing to stop; never held under the lock
    if let Ok(mut c) = shared.client.lock() {
        *c = Some(client.clone());
    }
    refresh(shared);
    match (main_window(app), tauri::Url::parse(&client.ui_url())) {
        (Some(w), Ok(url)) => {
            if let Err(e) = w.navigate(url) {
                tracing::warn!(error = %e, "cannot show the web interface");
            }
        }
        (_, Err(e)) => tracing::warn!(error = %e, "the web interface's address is not valid"),
        (None, _) => {}
    }
}

/// What the last look at the engine found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Look {
    /// It answered.
    Answered,
    /// The engine the app started has ended on its own.
    ChildEnded,
    /// No engine answers (none known, or an attached one went quiet).
    Silent,
}

/// Asks the engine for its status and shows it in the tray.
fn refresh(shared: &Shared) -> Look {
    let child_ended = shared.engine.lock().map(|mut e| e.as_mut().is_some_and(Engine::child_ended)).unwrap_or(false);
    if child_ended {
        tracing::warn!("the mail server the app started has ended");
        if let Ok(mut e) = shared.engine.lock() {
            *e = None;
        }
        if let Ok(mut c) = shared.client.lock() {
            *c = None;
        }
    }
    let status = shared.client().and_then(|c| c.get("/api/v1/status").ok());
    let view = tray::assess(shared.lang, status.as_ref());
    if let Ok(mut t) = shared.tray.lock()
        && let Some(t) = t.as_mut()
    {
        t.show(view);
    }
    match (child_ended, status.is_some()) {
        (true, _) => Look::ChildEnded,
        (false, true) => Look::Answered,
        (false, false) => Look::Silent,
    }
}

/// Refreshes the tray every 2 seconds once a server was found.
fn monitor(app: &AppHandle, shared: &Shared) {
    loop {
        std::thread::sleep(Duration::from_secs(2));
        // Before the first connection the tray keeps saying "starting".
        let connected_once = shared.tray.lock().map(|t| t.as_ref().is_some_and(|t| t.shown().is_some()));
        if !connected_once.unwrap_or(false) || shared.quitting.load(Ordering::SeqCst) {
            continue;
        }
        match refresh(shared) {
            Look::ChildEnded => {
                start_page(app, "stopped");
                let (title, body) = shared.lang.server_ended();
                notify::show(app, title, body);
            }
            Look::Silent if !shared.engine.lock().is_ok_and(|e| e.as_ref().is_some_and(Engine::is_child)) => {
                // An attached server (a service) that restarted writes a new
                // key: look again, and follow it when it answers.
                if let Some(client) = engine::attach(&shared.launch.data_dir) {
                    tracing::info!("the mail server is back; attached again");
                    use_engine(app, shared, Engine::attached(client));
                }
            }
            _ => {}
        }
    }
}

/// Carries out a tray menu choice (slow ones on their own thread).
fn on_choice(app: &AppHandle, shared: &Arc<Shared>, id: &str) {
    match id {
        tray::OPEN => show_window(app),
        tray::QUIT => {
            if shared.quitting.swap(true, Ordering::SeqCst) {
                return;
            }
            if let Some(w) = main_window(app) {
                let _ = w.hide();
            }
            let app = app.clone();
            let shared = shared.clone();
            std::thread::spawn(move || {
                // A child still starting sees `quitting` and stops itself.
                while shared.connecting.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(100));
                }
                stop_engine(&shared);
                app.exit(0);
            });
        }
        tray::DELIVERY | tray::SERVER => {
            let app = app.clone();
            let shared = shared.clone();
            let id = id.to_string();
            std::thread::spawn(move || {
                if let Err(e) = act(&app, &shared, &id) {
                    tracing::warn!(error = %format!("{e:#}"), action = %id, "tray action failed");
                }
                refresh(&shared);
            });
        }
        _ => {}
    }
}

/// Pause/Resume delivery or Start/Stop the mail services.
fn act(app: &AppHandle, shared: &Shared, id: &str) -> anyhow::Result<()> {
    if shared.quitting.load(Ordering::SeqCst) {
        return Ok(());
    }
    let Some(client) = shared.client() else {
        // No server answers: Start server finds or starts one again.
        if id == tray::SERVER {
            start_page(app, "starting");
            connect(app, shared);
        }
        return Ok(());
    };
    let status = client.get("/api/v1/status")?;
    if id == tray::DELIVERY {
        let verb = if status["queue_paused"].as_bool() == Some(true) { "resume" } else { "pause" };
        client.post(&format!("/api/v1/queue/{verb}"))?;
        tracing::info!(verb, "delivery changed from the tray");
        return Ok(());
    }
    let view = tray::assess(shared.lang, Some(&status));
    let verb = if view.server_stopped { "start" } else { "stop" };
    let names: Vec<String> = tray::mail_listeners(&status)
        .filter(|l| (l["running"].as_bool() == Some(true)) == (verb == "stop"))
        .filter_map(|l| l["name"].as_str().map(str::to_string))
        .collect();
    for name in names {
        client.post(&format!("/api/v1/listeners/{name}/{verb}"))?;
    }
    tracing::info!(verb, "mail services changed from the tray");
    Ok(())
}

fn stop_engine(shared: &Shared) {
    if let Ok(mut c) = shared.client.lock() {
        *c = None;
    }
    let engine = shared.engine.lock().ok().and_then(|mut e| e.take());
    if let Some(mut engine) = engine {
        engine.stop();
    }
}

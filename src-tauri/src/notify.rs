//! Desktop notifications: follows the engine's event stream and shows each
//! `notification` event the desktop cares about (bounce, ban, certificate
//! expiry, low disk) in the language of the tray. Reconnects every 2 s while
//! the engine is away.

use std::time::Duration;

use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt as _;

use crate::client::Client;
use crate::text::Lang;

/// Runs for the life of the app (on its own thread).
pub fn follow(app: &AppHandle, lang: Lang, client: impl Fn() -> Option<Client>) {
    loop {
        if let Some(c) = client() {
            let result = c.follow_events(|name, event| {
                if name == "notification"
                    && let Some((title, body)) = lang.notification(event)
                {
                    show(app, &title, &body);
                }
            });
            if let Err(e) = result {
                tracing::debug!(error = %format!("{e:#}"), "event stream ended");
            }
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Shows one desktop notification.
pub fn show(app: &AppHandle, title: &str, body: &str) {
    tracing::info!(title, body, "desktop notification");
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::warn!(error = %e, "cannot show a desktop notification");
    }
}

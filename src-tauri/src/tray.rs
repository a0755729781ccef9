//! The tray icon: the server's state in colour (green running, amber
//! warning, grey stopped), a tooltip saying why, and the menu Open,
//! Pause/Resume delivery, Start/Stop server, Quit.
//!
//! Invariant: the icon and menu words are derived from the last status the
//! engine gave (or its silence) by [`assess`] alone, so what the tray says
//! is always what the dashboard says.

use serde_json::Value;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Wry};

use crate::text::{Lang, Phrase};

/// Menu item ids.
pub const OPEN: &str = "open";
/// Pause or resume outgoing delivery.
pub const DELIVERY: &str = "delivery";
/// Start or stop the mail services.
pub const SERVER: &str = "server";
/// Quit the app.
pub const QUIT: &str = "quit";

/// The colour of the tray icon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Every mail service runs and nothing needs attention.
    Running,
    /// Something needs attention: a warning, a stopped service, paused delivery.
    Warning,
    /// No mail service runs, or the engine does not answer.
    Stopped,
}

/// What the tray shows for one status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// Icon colour.
    pub health: Health,
    /// Tooltip, one line per fact.
    pub tooltip: String,
    /// Delivery is paused (the menu offers Resume).
    pub paused: bool,
    /// The mail services are stopped or unreachable (the menu offers Start).
    pub server_stopped: bool,
}

/// The mail listeners (the admin API's own listeners are not "the server").
pub fn mail_listeners(status: &Value) -> impl Iterator<Item = &Value> {
    status["listeners"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["can_stop"].as_bool() == Some(true) && !l["name"].as_str().unwrap_or("").starts_with("admin"))
}

/// Derives the tray's view from the engine's status (`None`: no answer).
pub fn assess(lang: Lang, status: Option<&Value>) -> View {
    let Some(s) = status else {
        return View {
            health: Health::Stopped,
            tooltip: lang.say(Phrase::Unreachable).to_string(),
            paused: false,
            server_stopped: true,
        };
    };
    let (mut total, mut running) = (0, 0);
    for l in mail_listeners(s) {
        total += 1;
        if l["running"].as_bool() == Some(true) {
            running += 1;
        }
    }
    let paused = s["queue_paused"].as_bool() == Some(true);
    let warnings: Vec<&str> = s["warnings"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let server_stopped = total > 0 && running == 0;
    let health = if server_stopped {
        Health::Stopped
    } else if running < total || paused || !warnings.is_empty() {
        Health::Warning
    } else {
        Health::Running
    };
    let mut lines = vec![
        match health {
            Health::Stopped => lang.say(Phrase::Stopped),
            Health::Running => lang.say(Phrase::Running),
            Health::Warning => "Mailroom",
        }
        .to_string(),
    ];
    if !server_stopped && running < total {
        lines.push(lang.say(Phrase::SomeStopped).to_string());
    }
    if paused {
        lines.push(lang.say(Phrase::Paused).to_string());
    }
    lines.extend(warnings.iter().take(3).map(|w| w.to_string()));
    let queued = s["counts"]["queue"].as_u64().unwrap_or(0);
    if queued > 0 {
        lines.push(lang.queued(queued));
    }
    View { health, tooltip: lines.join("\n"), paused, server_stopped }
}

/// The tray icon and the menu items whose words change.
pub struct Tray {
    icon: TrayIcon,
    delivery: MenuItem<Wry>,
    server: MenuItem<Wry>,
    lang: Lang,
    shown: Option<View>,
}

fn image(health: Health) -> tauri::Result<Image<'static>> {
    Image::from_bytes(match health {
        Health::Running => include_bytes!("../../icons/tray-running.png"),
        Health::Warning => include_bytes!("../../icons/tray-warning.png"),
        Health::Stopped => include_bytes!("../../icons/tray-stopped.png"),
    })
}

impl Tray {
    /// Builds the tray icon (grey, "starting") and its menu; menu choices
    /// and a left click go to `on_choice` with the item id.
    pub fn build(
        app: &AppHandle,
        lang: Lang,
        on_choice: impl Fn(&AppHandle, &str) + Send + Sync + 'static,
    ) -> tauri::Result<Tray> {
        let open = MenuItem::with_id(app, OPEN, lang.say(Phrase::Open), true, None::<&str>)?;
        let delivery = MenuItem::with_id(app, DELIVERY, lang.say(Phrase::PauseDelivery), false, None::<&str>)?;
        let server = MenuItem::with_id(app, SERVER, lang.say(Phrase::StopServer), false, None::<&str>)?;
        let quit = MenuItem::with_id(app, QUIT, lang.say(Phrase::Quit), true, None::<&str>)?;
        let menu = Menu::with_items(
            app,
            &[
                &open,
                &PredefinedMenuItem::separator(app)?,
                &delivery,
                &server,
                &PredefinedMenuItem::separator(app)?,
                &quit,
            ],
        )?;
        let on_choice = std::sync::Arc::new(on_choice);
        let on_click = on_choice.clone();
        let icon = TrayIconBuilder::with_id("mailroom")
            .icon(image(Health::Stopped)?)
            .tooltip(lang.say(Phrase::Starting))
            .menu(&menu)
            .show_menu_on_left_click(false)
            .on_menu_event(move |app, event| on_choice(app, event.id().as_ref()))
            .on_tray_icon_event(move |tray, event| {
                if let TrayIconEvent::Click { button: MouseButton::Left, button_state: MouseButtonState::Up, .. } =
                    event
                {
                    on_click(tray.app_handle(), OPEN);
                }
            })
            .build(app)?;
        Ok(Tray { icon, delivery, server, lang, shown: None })
    }

    /// Shows `view`, changing only what differs from what is shown.
    pub fn show(&mut self, view: View) {
        if self.shown.as_ref() == Some(&view) {
            return;
        }
        let before = self.shown.take();
        if before.as_ref().map(|b| b.health) != Some(view.health)
            && let Ok(img) = image(view.health)
        {
            let _ = self.icon.set_icon(Some(img));
            tracing::info!(health = ?view.health, "tray state");
        }
        let _ = self.icon.set_tooltip(Some(&view.tooltip));
        let _ = self.delivery.set_text(self.lang.say(if view.paused {
            Phrase::ResumeDelivery
        } else {
            Phrase::PauseDelivery
        }));
        let _ = self.delivery.set_enabled(true);
        let _ = self.server.set_text(self.lang.say(if view.server_stopped {
            Phrase::StartServer
        } else {
            Phrase::StopServer
        }));
        let _ = self.server.set_enabled(true);
        self.shown = Some(view);
    }

    /// What is shown now.
    pub fn shown(&self) -> Option<&View> {
        self.shown.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(running: [bool; 2], paused: bool, warnings: &[&str], queue: u64) -> Value {
        json!({
            "listeners": [
                {"name": "smtp", "running": running[0], "can_stop": true},
                {"name": "imap", "running": running[1], "can_stop": true},
                {"name": "admin", "running": true, "can_stop": false},
            ],
            "queue_paused": paused,
            "warnings": warnings,
            "counts": {"queue": queue},
        })
    }

    #[test]
    fn colour_follows_what_needs_attention() {
        let all_well = assess(Lang::En, Some(&status([true, true], false, &[], 0)));
        assert_eq!(all_well.health, Health::Running);
        assert_eq!(all_well.tooltip, "Mailroom: all is well");
        let warned = assess(Lang::En, Some(&status([true, true], false, &["The certificate expires in 3 days."], 2)));
        assert_eq!(warned.health, Health::Warning);
        assert!(warned.tooltip.contains("expires in 3 days") && warned.tooltip.contains("2 messages waiting"));
        let paused = assess(Lang::En, Some(&status([true, true], true, &[], 0)));
        assert_eq!((paused.health, paused.paused), (Health::Warning, true));
        let half = assess(Lang::En, Some(&status([true, false], false, &[], 0)));
        assert_eq!((half.health, half.server_stopped), (Health::Warning, false));
        let stopped = assess(Lang::En, Some(&status([false, false], false, &[], 0)));
        assert_eq!((stopped.health, stopped.server_stopped), (Health::Stopped, true));
        let silent = assess(Lang::Ru, None);
        assert_eq!(silent.health, Health::Stopped);
        assert_eq!(silent.tooltip, "Mailroom: почтовый сервер не отвечает");
    }
}

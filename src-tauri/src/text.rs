//! The app's own words (tray menu, tooltip, notifications) in English and
//! Russian, chosen once from the system's language. The window's words come
//! from the web interface, which has its own translations.

use serde_json::Value;

/// The language of the tray and notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Russian.
    Ru,
}

impl Lang {
    /// Russian where the system's language is Russian, else English.
    pub fn from_system() -> Lang {
        let locale = sys_locale::get_locale().unwrap_or_default().to_lowercase();
        if locale.starts_with("ru") { Lang::Ru } else { Lang::En }
    }

    /// A fixed phrase.
    pub fn say(self, phrase: Phrase) -> &'static str {
        use Phrase::*;
        match (self, phrase) {
            (Lang::En, Open) => "Open Mailroom",
            (Lang::Ru, Open) => "Открыть Mailroom",
            (Lang::En, PauseDelivery) => "Pause delivery",
            (Lang::Ru, PauseDelivery) => "Приостановить доставку",
            (Lang::En, ResumeDelivery) => "Resume delivery",
            (Lang::Ru, ResumeDelivery) => "Возобновить доставку",
            (Lang::En, StopServer) => "Stop server",
            (Lang::Ru, StopServer) => "Остановить сервер",
            (Lang::En, StartServer) => "Start server",
            (Lang::Ru, StartServer) => "Запустить сервер",
            (Lang::En, Quit) => "Quit",
            (Lang::Ru, Quit) => "Выход",
            (Lang::En, Starting) => "Mailroom: starting the mail server…",
            (Lang::Ru, Starting) => "Mailroom: почтовый сервер запускается…",
            (Lang::En, Running) => "Mailroom: all is well",
            (Lang::Ru, Running) => "Mailroom: всё в порядке",
            (Lang::En, Stopped) => "Mailroom: the mail server is stopped",
            (Lang::Ru, Stopped) => "Mailroom: почтовый сервер остановлен",
            (Lang::En, Unreachable) => "Mailroom: the mail server does not answer",
            (Lang::Ru, Unreachable) => "Mailroom: почтовый сервер не отвечает",
            (Lang::En, Paused) => "Outgoing delivery is paused",
            (Lang::Ru, Paused) => "Отправка писем приостановлена",
            (Lang::En, SomeStopped) => "Some services are stopped",
            (Lang::Ru, SomeStopped) => "Часть служб остановлена",
        }
    }

    /// "N messages waiting to be sent".
    pub fn queued(self, n: u64) -> String {
        match self {
            Lang::En if n == 1 => "1 message waiting to be sent".to_string(),
            Lang::En => format!("{n} messages waiting to be sent"),
            Lang::Ru => format!("Ждут отправки: {n}"),
        }
    }

    /// Title and body of the notification when the server the app started
    /// ends by itself.
    pub fn server_ended(self) -> (&'static str, &'static str) {
        match self {
            Lang::En => (
                "The mail server stopped",
                "The mail server this app started has ended unexpectedly. Choose Start server in the tray menu to start it again.",
            ),
            Lang::Ru => (
                "Почтовый сервер остановился",
                "Почтовый сервер, запущенный приложением, неожиданно завершился. Выберите «Запустить сервер» в меню значка, чтобы запустить его снова.",
            ),
        }
    }

    /// Title and body of the desktop notification for an engine event of
    /// kind `notification`, or `None` for kinds the desktop does not show.
    pub fn notification(self, event: &Value) -> Option<(String, String)> {
        let f = &event["fields"];
        let field = |k: &str| match &f[k] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let ru = self == Lang::Ru;
        let (title, body) = match f["notify"].as_str()? {
            "bounce" => {
                let to = field("rcpt");
                let from = field("sender");
                if ru {
                    ("Письмо не доставлено".to_string(), format!("Письмо от {from} для {to} вернулось отправителю."))
                } else {
                    (
                        "Message not delivered".to_string(),
                        format!("A message from {from} to {to} was returned to its sender."),
                    )
                }
            }
            "ban" => {
                let peer = field("peer");
                if ru {
                    (
                        "Адрес заблокирован".to_string(),
                        format!("{peer} заблокирован после нескольких неверных паролей."),
                    )
                } else {
                    ("Address blocked".to_string(), format!("{peer} was blocked after too many wrong passwords."))
                }
            }
            "cert_expiring" => {
                let days: i64 = field("days").parse().unwrap_or(0);
                match (ru, days < 0) {
                    (false, true) => (
                        "Certificate expired".to_string(),
                        "Mail programs will refuse the server's certificate until it is renewed.".to_string(),
                    ),
                    (false, false) => (
                        "Certificate expires soon".to_string(),
                        format!("The server's certificate expires in {days} days. Renew it in Settings."),
                    ),
                    (true, true) => (
                        "Сертификат истёк".to_string(),
                        "Почтовые программы не примут сертификат сервера, пока его не обновят.".to_string(),
                    ),
                    (true, false) => (
                        "Сертификат скоро истечёт".to_string(),
                        format!("Сертификат сервера истекает через {days} дн. Обновите его в настройках."),
                    ),
                }
            }
            "disk_low" => {
                let mb = field("free_mb");
                if ru {
                    (
                        "Мало места на диске".to_string(),
                        format!("Для почты осталось {mb} МБ. Освободите место, иначе приём писем остановится."),
                    )
                } else {
                    (
                        "Disk almost full".to_string(),
                        format!("{mb} MB left for mail. Free some space, or the server will stop accepting mail."),
                    )
                }
            }
            _ => return None,
        };
        Some((title, body))
    }
}

/// The fixed phrases of the tray.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phrase {
    /// Menu: show the window.
    Open,
    /// Menu: pause outgoing delivery.
    PauseDelivery,
    /// Menu: resume outgoing delivery.
    ResumeDelivery,
    /// Menu: stop the mail services.
    StopServer,
    /// Menu: start the mail services.
    StartServer,
    /// Menu: quit the app.
    Quit,
    /// Tooltip while connecting.
    Starting,
    /// Tooltip when all is well.
    Running,
    /// Tooltip when the mail services are stopped.
    Stopped,
    /// Tooltip when the engine does not answer.
    Unreachable,
    /// Tooltip line: delivery is paused.
    Paused,
    /// Tooltip line: some listeners are stopped.
    SomeStopped,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn notifications_name_what_happened_in_both_languages() {
        let bounce = json!({"fields": {"notify": "bounce", "rcpt": "bob@example.net", "sender": "alice@example.com"}});
        let (t, b) = Lang::En.notification(&bounce).expect("bounce is shown");
        assert_eq!(t, "Message not delivered");
        assert!(b.contains("alice@example.com") && b.contains("bob@example.net"), "{b}");
        let (t, _) = Lang::Ru.notification(&bounce).expect("bounce is shown");
        assert_eq!(t, "Письмо не доставлено");
        let disk = json!({"fields": {"notify": "disk_low", "free_mb": 120}});
        assert!(Lang::En.notification(&disk).expect("shown").1.contains("120 MB"));
        let expired = json!({"fields": {"notify": "cert_expiring", "days": -2}});
        assert_eq!(Lang::En.notification(&expired).expect("shown").0, "Certificate expired");
        let stopped = json!({"fields": {"notify": "listener_stopped"}});
        assert!(Lang::En.notification(&stopped).is_none(), "the admin's own action is not announced");
    }
}

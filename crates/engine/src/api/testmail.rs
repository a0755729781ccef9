//! `POST /api/v1/test-message`: sends a short test message (English and
//! Russian) from `postmaster@` to any address, so the setup wizard and an
//! admin can see mail flow end to end: local addresses get it at once,
//! others through the outbound queue. It goes through the same durable
//! delivery as mail received over SMTP.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiState;
use super::directory::run;
use super::error::{ApiError, ApiResult, Body, ErrorBody};

/// Body of `POST /api/v1/test-message`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TestMessage {
    /// Who should receive it.
    pub to: String,
}

/// What was sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestMessageSent {
    /// The message id, for the trace and the log.
    pub message_id: String,
    /// The sender used (`postmaster@` of the recipient's or the first domain).
    pub from: String,
    /// Delivered to a mailbox here.
    pub local: bool,
    /// Queued for another server.
    pub queued: bool,
}

fn compose(from: &str, to: &str, hostname: &str) -> Vec<u8> {
    let now = chrono::Utc::now();
    let body = format!(
        "This is a test message from your Mailroom server {hostname}.\r\n\
         If you can read it, mail reaches {to}.\r\n\r\n\
         Это тестовое письмо от вашего сервера Mailroom {hostname}.\r\n\
         Если вы его читаете, почта доходит до {to}.\r\n"
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(body.as_bytes());
    let mut lines = String::new();
    for chunk in encoded.as_bytes().chunks(76) {
        lines.push_str(&String::from_utf8_lossy(chunk));
        lines.push_str("\r\n");
    }
    let id: u64 = rand::random();
    format!(
        "From: Mailroom <{from}>\r\nTo: <{to}>\r\nSubject: Mailroom test message\r\nDate: {}\r\n\
         Message-ID: <test-{id:016x}@{hostname}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{lines}",
        now.to_rfc2822()
    )
    .into_bytes()
}

/// Sends a test message.
#[utoipa::path(
    post,
    path = "/api/v1/test-message",
    tag = "directory",
    security(("bearer" = [])),
    request_body = TestMessage,
    responses(
        (status = 202, description = "Delivered here or queued for another server", body = TestMessageSent),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 422, description = "Not an address, no such mailbox here, or no domain to send from yet", body = ErrorBody)
    )
)]
pub async fn send(
    State(state): State<ApiState>,
    Body(body): Body<TestMessage>,
) -> ApiResult<(StatusCode, Json<TestMessageSent>)> {
    let hostname = state.backend.config().hostname.clone();
    let sent = run(&state, move |store| {
        let to = mailroom_store::normalize_address(&body.to)?;
        let domains = store.list_domains()?;
        let rcpt_domain = to.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
        let from_domain = domains
            .iter()
            .find(|d| d.name == rcpt_domain)
            .or_else(|| domains.first())
            .map(|d| d.name.clone())
            .ok_or_else(|| ApiError::invalid("add a domain first; the test message is sent from its postmaster"))?;
        let from = format!("postmaster@{from_domain}");
        let mut accounts = Vec::new();
        let mut remote = Vec::new();
        match store.resolve(&to)? {
            mailroom_store::Resolution::Remote => remote.push(to.clone()),
            mailroom_store::Resolution::Local(targets) => {
                for t in targets {
                    match t {
                        mailroom_store::Target::Account { id, .. } if !accounts.contains(&id) => accounts.push(id),
                        mailroom_store::Target::Remote(a) if !remote.contains(&a) => remote.push(a),
                        _ => {}
                    }
                }
            }
            mailroom_store::Resolution::Unknown => {
                return Err(ApiError::invalid(format!("there is no mailbox or alias {to} here")));
            }
            mailroom_store::Resolution::Disabled => {
                return Err(ApiError::invalid(format!("the mailbox {to} is disabled")));
            }
            mailroom_store::Resolution::OverQuota => {
                return Err(ApiError::invalid(format!("the mailbox {to} is full")));
            }
        }
        let message = compose(&from, &to, &hostname);
        let trace = format!(
            "Received: from the admin interface by {hostname} (Mailroom); {}\r\n",
            chrono::Utc::now().to_rfc2822()
        );
        let receipt = store.deliver(&mailroom_store::Delivery {
            sender: &from,
            trace: trace.as_bytes(),
            body: &message,
            local_accounts: &accounts,
            remote: &remote,
            // The server's own message, from postmaster of our domain.
            signable: true,
        })?;
        // The same events as mail received over SMTP, so the trace and the
        // statistics' log views tell its story the same way.
        tracing::info!(
            message_id = receipt.display_id(),
            local_id = receipt.local_id.as_deref().unwrap_or(""),
            queued_id = receipt.queued_id.as_deref().unwrap_or(""),
            from = %from,
            peer = "the admin interface (test message)",
            recipients = 1,
            recipient_list = %to,
            size = message.len() + trace.len(),
            "message accepted"
        );
        if let Some(local) = &receipt.local_id {
            tracing::info!(message_id = %local, mailboxes = %to, "delivered locally");
        }
        Ok(TestMessageSent {
            message_id: receipt.display_id().to_string(),
            from,
            local: receipt.local_id.is_some(),
            queued: receipt.queued_id.is_some(),
        })
    })
    .await?;
    if sent.queued {
        state.backend.wake_queue();
    }
    Ok((StatusCode::ACCEPTED, Json(sent)))
}

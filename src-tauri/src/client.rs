//! The app's client of the engine's admin API: the same HTTP API the web
//! interface and the CLI use, on the loopback address from `runtime.json`,
//! with the local `admin.token`. Short requests have a 10 s limit; the event
//! stream has none (it is read line by line on its own thread).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::Value;

/// One engine's admin API.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
    stream_agent: ureq::Agent,
}

impl Client {
    /// A client of the admin API at `addr`.
    pub fn new(addr: SocketAddr, token: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .into();
        let stream_agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .build()
            .into();
        Client { base: format!("http://{addr}"), token: token.trim().to_string(), agent, stream_agent }
    }

    /// The address of the web interface, logged in with the local token (the
    /// part after `#` never leaves the window).
    pub fn ui_url(&self) -> String {
        format!("{}/#token={}", self.base, self.token)
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// `GET path`, expecting 200 and JSON.
    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        let resp = self.agent.get(format!("{}{path}", self.base)).header("Authorization", self.bearer()).call()?;
        Self::json(resp)
    }

    /// `POST path` with no body, expecting 200 and JSON.
    pub fn post(&self, path: &str) -> anyhow::Result<Value> {
        let resp =
            self.agent.post(format!("{}{path}", self.base)).header("Authorization", self.bearer()).send_empty()?;
        Self::json(resp)
    }

    fn json(mut resp: ureq::http::Response<ureq::Body>) -> anyhow::Result<Value> {
        let code = resp.status().as_u16();
        let body: Value = resp.body_mut().read_json().unwrap_or(Value::Null);
        if code != 200 {
            bail!("{}", body["error"].as_str().unwrap_or("the admin API refused the request"));
        }
        Ok(body)
    }

    /// Opens the event stream (`GET /api/v1/events`) and calls `on_event`
    /// with each event's name and data until the stream ends.
    pub fn follow_events(&self, mut on_event: impl FnMut(&str, &Value)) -> anyhow::Result<()> {
        let resp = self
            .stream_agent
            .get(format!("{}/api/v1/events", self.base))
            .header("Authorization", self.bearer())
            .header("Accept", "text/event-stream")
            .call()?;
        if resp.status().as_u16() != 200 {
            bail!("the event stream was refused ({})", resp.status());
        }
        let reader = BufReader::new(resp.into_body().into_reader());
        let (mut name, mut data) = (String::new(), String::new());
        // The engine on this machine is trusted: one JSON event per data line.
        for line in reader.lines() {
            let line = line.context("the event stream broke off")?;
            if line.is_empty() {
                if !data.is_empty() {
                    let value: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                    on_event(if name.is_empty() { "message" } else { &name }, &value);
                }
                name.clear();
                data.clear();
            } else if let Some(v) = line.strip_prefix("event:") {
                name = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
        Ok(())
    }
}

//! `kenar listen`: streams an app's deliveries live from the server (Server-Sent Events) and
//! forwards each to a local URL with the webhook's own headers and exact body, printing one
//! line per delivery, as `stripe listen` does. Reconnects after `?after=<last id>` when the
//! stream drops; Ctrl-C stops it.

use std::time::{Duration, Instant};

use clap::Args;
use reqwest::header::ACCEPT;
use reqwest::Url;
use serde_json::{json, Value};

use super::{enum_value, Authed, Ctx};
use crate::error::{describe_transport, CliError, CliResult};
use crate::http::{parse_base_url, read_answer, USER_AGENT};
use crate::output::{Output, Style};
use crate::sse::{SseEvent, SseParser};
use crate::time::{millis, stamp_now};

/// Silence longer than this means the stream is dead (the server comments every 15 s).
const IDLE: Duration = Duration::from_secs(45);
/// The longest wait between two reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Where to POST each delivery, e.g. http://localhost:9000/webhook [default: print only]
    #[arg(long, value_name = "URL")]
    pub forward_to: Option<String>,
    /// Start after this delivery id (replaying what came after it) instead of now.
    #[arg(long, value_name = "ID")]
    pub after: Option<i64>,
    /// Only deliveries of this webhook type (repeatable): NEW_MESSAGE, POST_UPDATE, ...
    #[arg(long = "event-type", value_name = "TYPE")]
    pub event_types: Vec<String>,
    /// How long the local endpoint may take to answer.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub forward_timeout: String,
    /// Print each webhook's body under its line.
    #[arg(long)]
    pub print_body: bool,
}

/// What became of one delivery.
enum Outcome {
    NotForwarded,
    Answered { status: u16, latency: Duration },
    Failed { error: String, latency: Duration },
}

struct Listener<'a> {
    out: &'a Output,
    admin: Authed,
    slug: String,
    stream: reqwest::Client,
    forward: Option<(Url, reqwest::Client)>,
    event_types: Vec<String>,
    print_body: bool,
}

pub async fn run(ctx: &Ctx, a: ListenArgs) -> CliResult<()> {
    let slug = ctx.settings.app(None)?.to_owned();
    let admin = ctx.admin()?;
    let timeout = humantime::parse_duration(&a.forward_timeout)
        .map_err(|e| CliError::usage(format!("--forward-timeout {:?}: {e}", a.forward_timeout)))?;
    let forward = match &a.forward_to {
        Some(raw) => {
            let url = parse_base_url(raw).map_err(|_| {
                CliError::usage(format!("--forward-to {raw:?}: expected an http(s) URL"))
            })?;
            let client = reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| CliError::usage(format!("cannot build the HTTP client: {e}")))?;
            Some((url, client))
        }
        None => None,
    };
    let stream = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| CliError::usage(format!("cannot build the HTTP client: {e}")))?;
    let listener = Listener {
        out: &ctx.out,
        admin,
        slug,
        stream,
        forward,
        event_types: a.event_types.iter().map(|t| enum_value(t)).collect(),
        print_body: a.print_body,
    };
    tokio::select! {
        r = listener.start(a.after) => r,
        _ = tokio::signal::ctrl_c() => {
            ctx.out.note("Stopped.");
            Ok(())
        }
    }
}

impl Listener<'_> {
    /// Streams from delivery `after`, or from the app's newest delivery now: starting from an
    /// id (rather than from "when the connection opened") is what lets a reconnection resume
    /// without losing what was created while the stream was down.
    async fn start(&self, after: Option<i64>) -> CliResult<()> {
        let after = match after {
            Some(id) => id,
            None => {
                let newest = self
                    .admin
                    .get(
                        &["admin", "v1", "deliveries"],
                        &[("app", self.slug.clone()), ("limit", "1".to_owned())],
                    )
                    .await?;
                newest.value["deliveries"][0]["id"].as_i64().unwrap_or(0)
            }
        };
        self.run(Some(after)).await
    }

    async fn run(&self, mut last: Option<i64>) -> CliResult<()> {
        let mut connected_once = false;
        let mut backoff = Duration::from_secs(1);
        loop {
            let response = match self.connect(last).await {
                Ok(r) => r,
                // Until the first connection works, and for a refusal (a revoked admin token,
                // a deleted app), a failure is the user's to fix.
                Err(e) if !connected_once || !retryable(&e) => return Err(e),
                Err(e) => {
                    self.out.note(&format!(
                        "{} {e}; reconnecting in {}s",
                        self.out.paint_err(Style::Yellow, "stream lost:"),
                        backoff.as_secs()
                    ));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            if connected_once {
                self.out.note("Reconnected.");
            } else {
                self.out.note(&self.ready_message());
                connected_once = true;
            }
            backoff = Duration::from_secs(1);
            let why = self.read(response, &mut last).await;
            self.out.note(&format!(
                "{} {why}; reconnecting",
                self.out.paint_err(Style::Yellow, "stream lost:")
            ));
            tokio::time::sleep(backoff).await;
        }
    }

    fn ready_message(&self) -> String {
        let what = match &self.forward {
            Some((url, _)) => format!("forwarding deliveries of {} to {url}", self.slug),
            None => format!("listening for deliveries of {}", self.slug),
        };
        format!(
            "{} {what} (Ctrl-C to stop)",
            self.out.paint_err(Style::Green, "Ready!")
        )
    }

    /// Opens the stream, after delivery `last` if set.
    async fn connect(&self, last: Option<i64>) -> CliResult<reqwest::Response> {
        let mut url =
            self.admin
                .api
                .url(&["admin", "v1", "apps", &self.slug, "deliveries", "stream"]);
        if let Some(after) = last {
            url.query_pairs_mut()
                .append_pair("after", &after.to_string());
        }
        let response = self
            .stream
            .get(url.clone())
            .bearer_auth(self.admin.token.expose())
            .header(ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| CliError::Transport(describe_transport(&e, url.as_str())))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(read_answer(response, url.as_str())
                .await
                .err()
                .unwrap_or_else(|| CliError::Unexpected("no stream".into())))
        }
    }

    /// Reads events until the stream ends; returns why it ended.
    async fn read(&self, mut response: reqwest::Response, last: &mut Option<i64>) -> String {
        let mut parser = SseParser::new();
        loop {
            match tokio::time::timeout(IDLE, response.chunk()).await {
                Ok(Ok(Some(bytes))) => {
                    for event in parser.feed(&bytes) {
                        if let Some(id) = self.handle(event).await {
                            *last = Some(id);
                        }
                    }
                }
                Ok(Ok(None)) => return "the server closed the stream".to_owned(),
                Ok(Err(e)) => return format!("the connection broke ({})", innermost(&e)),
                Err(_) => return format!("nothing received for {}s", IDLE.as_secs()),
            }
        }
    }

    /// Forwards and prints one event; returns its delivery id.
    async fn handle(&self, event: SseEvent) -> Option<i64> {
        if event.event != "delivery" {
            return None;
        }
        let d: Value = match serde_json::from_str(&event.data) {
            Ok(v) => v,
            Err(e) => {
                self.out
                    .note(&format!("skipped an event that is not JSON: {e}"));
                return event.id.and_then(|i| i.parse().ok());
            }
        };
        let id = d["delivery_id"]
            .as_i64()
            .or_else(|| event.id.as_deref().and_then(|i| i.parse().ok()));
        let event_type = d["event_type"].as_str().unwrap_or("?");
        if !self.event_types.is_empty() && !self.event_types.iter().any(|t| t == event_type) {
            return id;
        }
        let outcome = match &self.forward {
            Some((url, client)) => forward(client, url, &d).await,
            None => Outcome::NotForwarded,
        };
        self.print(&d, &outcome);
        id
    }

    fn print(&self, d: &Value, outcome: &Outcome) {
        let out = self.out;
        let field = |k: &str| d[k].as_str().unwrap_or("?").to_owned();
        if out.json {
            let (status, latency, error) = match outcome {
                Outcome::NotForwarded => (None, None, None),
                Outcome::Answered { status, latency } => {
                    (Some(*status), Some(latency.as_millis()), None)
                }
                Outcome::Failed { error, latency } => {
                    (None, Some(latency.as_millis()), Some(error.clone()))
                }
            };
            out.json_value(&json!({
                "time": crate::time::now_rfc3339(),
                "delivery_id": d["delivery_id"],
                "webhook_id": d["webhook_id"],
                "event_id": d["event_id"],
                "event_type": d["event_type"],
                "forwarded_to": self.forward.as_ref().map(|(u, _)| u.as_str()),
                "status": status,
                "latency_ms": latency,
                "error": error,
                "body": d["body"],
            }));
            return;
        }
        let result = match outcome {
            Outcome::NotForwarded => String::new(),
            Outcome::Answered { status, latency } => {
                let text = format!("[{status}]");
                let style = if (200..300).contains(status) {
                    Style::Green
                } else {
                    Style::Red
                };
                format!(
                    "  --> {} ({})",
                    out.paint(style, &text),
                    millis(latency.as_millis())
                )
            }
            Outcome::Failed { error, latency } => format!(
                "  --> {} {error} ({})",
                out.paint(Style::Red, "[error]"),
                millis(latency.as_millis())
            ),
        };
        out.line(&format!(
            "{}  {}  {:<10}  {:<10}{result}",
            out.paint(Style::Dim, &stamp_now()),
            out.paint(Style::Cyan, &format!("{:<22}", field("event_type"))),
            field("webhook_id"),
            field("event_id"),
        ));
        if self.print_body {
            let body =
                serde_json::to_string_pretty(&d["body"]).unwrap_or_else(|_| d["body"].to_string());
            out.line(&body);
        }
    }
}

/// The innermost cause of an error, the informative one.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Whether reconnecting may help after this failure to connect.
fn retryable(e: &CliError) -> bool {
    match e {
        CliError::Api { http_status, .. } => matches!(http_status, 429 | 500..=599),
        CliError::Transport(_) => true,
        _ => false,
    }
}

/// POSTs one delivery to `url` as the server would: its headers, and its body byte for byte
/// (`raw_body`, which the signature covers), or the body re-serialized when the server sent no
/// `raw_body`.
async fn forward(client: &reqwest::Client, url: &Url, d: &Value) -> Outcome {
    let body = match d["raw_body"].as_str() {
        Some(raw) => raw.to_owned(),
        None => d["body"].to_string(),
    };
    let mut request = client.post(url.clone()).body(body);
    for (name, value) in d["headers"].as_object().into_iter().flatten() {
        if let Some(value) = value.as_str() {
            request = request.header(name.as_str(), value);
        }
    }
    let started = Instant::now();
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            // Read the answer so the connection can be reused.
            let _ = response.bytes().await;
            Outcome::Answered {
                status,
                latency: started.elapsed(),
            }
        }
        Err(e) => Outcome::Failed {
            error: describe_transport(&e, url.as_str()),
            latency: started.elapsed(),
        },
    }
}

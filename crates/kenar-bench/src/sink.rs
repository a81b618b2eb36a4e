//! The webhook sink: a minimal hyper HTTP/1.1 server (keep-alive) that answers `200 {}` at once
//! and records, for every request, when it was read, its `webhook-id`, the app it was sent to
//! (from the path, `/hook/<app>`) and the benchmark's sequence number of the event in it.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::load::MESSAGE_MARKER;
use crate::{fail, Result};

/// One webhook as the sink read it.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// The app index of the path `/hook/<app>`.
    pub app: u16,
    /// The sequence number of the event (`kb-<seq>`), or `u32::MAX` if the body had none.
    pub seq: u32,
    /// When its body had been read, on the bench's monotonic clock.
    pub at: Instant,
}

#[derive(Default)]
struct Tally {
    /// `webhook-id`s seen: a delivery counts once however often it comes.
    ids: HashSet<u64>,
    /// First arrivals of unique `webhook-id`s, in order.
    arrivals: Vec<Arrival>,
    duplicates: u64,
    /// Requests without a usable `webhook-id` or event id: a bug somewhere, reported.
    malformed: u64,
}

struct Shared {
    tally: Mutex<Tally>,
    /// Unique deliveries so far, readable without the lock.
    unique: AtomicU64,
}

/// A running sink. Dropping it stops accepting connections.
pub struct Sink {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

/// What the sink saw, once the scenario is over.
pub struct Received {
    pub arrivals: Vec<Arrival>,
    pub duplicates: u64,
    pub malformed: u64,
}

impl Sink {
    /// A sink on `port` of 127.0.0.1 (0: any free port).
    pub async fn start(port: u16) -> Result<Sink> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            tally: Mutex::new(Tally::default()),
            unique: AtomicU64::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(Sink {
            addr,
            shared,
            accept,
        })
    }

    /// The webhook URL of app `app`.
    pub fn url(&self, app: usize) -> String {
        hook_url(self.addr.port(), app)
    }

    pub fn unique(&self) -> u64 {
        self.shared.unique.load(Ordering::Relaxed)
    }

    /// Waits until `expected` unique deliveries arrived. Fails when none arrives for `stall`:
    /// whatever has not come by then is reported lost.
    pub async fn wait_for(&self, expected: u64, stall: Duration) -> Result<()> {
        let mut last = self.unique();
        let mut last_progress = Instant::now();
        loop {
            let now = self.unique();
            if now >= expected {
                return Ok(());
            }
            if now != last {
                last = now;
                last_progress = Instant::now();
            } else if last_progress.elapsed() > stall {
                return Err(fail!(
                    "LOST EVENTS: {} of {expected} deliveries never reached the sink \
                     (nothing arrived for {stall:?})",
                    expected - now
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Takes what the sink recorded so far.
    pub fn take(&self) -> Received {
        let mut tally = self.shared.tally.lock().unwrap_or_else(|e| e.into_inner());
        let tally = std::mem::take(&mut *tally);
        self.shared.unique.store(0, Ordering::Relaxed);
        Received {
            arrivals: tally.arrivals,
            duplicates: tally.duplicates,
            malformed: tally.malformed,
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The webhook URL of app `app` on a sink at `port`.
pub fn hook_url(port: u16, app: usize) -> String {
    format!("http://127.0.0.1:{port}/hook/{app}")
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&shared), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    let app = app_of(req.uri().path());
    let id = req
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .map(webhook_id_key);
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let at = Instant::now();
    let seq = sequence_of(&body);
    {
        let mut tally = shared.tally.lock().unwrap_or_else(|e| e.into_inner());
        match (app, id, seq) {
            (Some(app), Some(id), Some(seq)) => {
                if tally.ids.insert(id) {
                    tally.arrivals.push(Arrival { app, seq, at });
                    shared.unique.fetch_add(1, Ordering::Relaxed);
                } else {
                    tally.duplicates += 1;
                }
            }
            _ => tally.malformed += 1,
        }
    }
    let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// `/hook/<app>` → app.
fn app_of(path: &str) -> Option<u16> {
    path.strip_prefix("/hook/")?.parse().ok()
}

/// A `webhook-id` as a number: `msg_<n>` is the server's form; anything else is hashed.
fn webhook_id_key(id: &str) -> u64 {
    if let Some(n) = id.strip_prefix("msg_").and_then(|n| n.parse::<u64>().ok()) {
        return n;
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish() | (1 << 63)
}

/// The sequence number of the bench event in a webhook body: the digits after `"kb-`.
pub fn sequence_of(body: &[u8]) -> Option<u32> {
    let marker = MESSAGE_MARKER.as_bytes();
    let at = body.windows(marker.len()).position(|w| w == marker)?;
    let digits = &body[at + marker.len()..];
    let end = digits.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_number_is_read_from_a_webhook_body() {
        let body = br#"{"type":"NEW_MESSAGE","new_message":{"id":"kb-1234","text":"x"}}"#;
        assert_eq!(sequence_of(body), Some(1234));
        assert_eq!(sequence_of(br#"{"id":"other"}"#), None);
    }

    #[test]
    fn paths_and_webhook_ids_are_parsed() {
        assert_eq!(app_of("/hook/17"), Some(17));
        assert_eq!(app_of("/webhook"), None);
        assert_eq!(webhook_id_key("msg_42"), 42);
        assert_ne!(webhook_id_key("msg_x"), webhook_id_key("msg_y"));
    }
}

//! A real webhook receiver: a small axum server on a random port that records what it gets
//! and answers as the test tells it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use tokio::sync::Notify;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    /// 429 or 503 with this `Retry-After`.
    RetryAfter(u16, String),
    /// Hold the request until [`Receiver::release`].
    Hold,
}

#[derive(Default)]
struct Inner {
    got: Mutex<Vec<Received>>,
    /// Answers to give, in order; when empty, the default.
    script: Mutex<VecDeque<Answer>>,
    default: Mutex<Option<Answer>>,
    arrived: Notify,
    release: Notify,
    in_flight: Mutex<(usize, usize)>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Inner>,
}

async fn handle(State(inner): State<Arc<Inner>>, headers: HeaderMap, raw: Bytes) -> Response {
    let answer = inner
        .script
        .lock()
        .expect("lock")
        .pop_front()
        .or_else(|| inner.default.lock().expect("lock").clone())
        .unwrap_or(Answer::Status(200));
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    {
        let mut flight = inner.in_flight.lock().expect("lock");
        flight.0 += 1;
        flight.1 = flight.1.max(flight.0);
    }
    inner.got.lock().expect("lock").push(Received {
        headers,
        body,
        raw,
        at: Instant::now(),
    });
    inner.arrived.notify_waiters();
    let response = match answer {
        Answer::Status(s) => {
            (StatusCode::from_u16(s).expect("status"), "answer body").into_response()
        }
        Answer::RetryAfter(s, after) => (
            StatusCode::from_u16(s).expect("status"),
            [("retry-after", after)],
            "slow down",
        )
            .into_response(),
        Answer::Hold => {
            inner.release.notified().await;
            StatusCode::OK.into_response()
        }
    };
    inner.in_flight.lock().expect("lock").0 -= 1;
    response
}

impl Receiver {
    pub async fn start() -> Receiver {
        Self::start_on(0).await
    }

    /// A receiver on this port (0: any free one).
    pub async fn start_on(port: u16) -> Receiver {
        let inner = Arc::new(Inner::default());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        let url = format!("http://{}/webhook", listener.local_addr().expect("addr"));
        let app = axum::Router::new()
            .route("/webhook", post(handle))
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, inner }
    }

    /// Answers to give to the next requests, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.inner.script.lock().expect("lock").extend(answers);
    }

    /// The answer once the script is used up.
    pub fn answer_by_default(&self, answer: Answer) {
        *self.inner.default.lock().expect("lock") = Some(answer);
    }

    /// Lets every held request answer 200.
    pub fn release(&self) {
        *self.inner.default.lock().expect("lock") = Some(Answer::Status(200));
        self.inner.release.notify_waiters();
    }

    pub fn got(&self) -> Vec<Received> {
        self.inner.got.lock().expect("lock").clone()
    }

    /// The most requests it was answering at once.
    pub fn max_in_flight(&self) -> usize {
        self.inner.in_flight.lock().expect("lock").1
    }

    /// Waits (at most `within`) until `n` requests arrived; returns them.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let arrived = self.inner.arrived.notified();
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, arrived).await.is_err() {
                panic!(
                    "expected {n} webhooks within {within:?}, got {}",
                    self.got().len()
                );
            }
        }
    }
}

//! The load generator: publishes through the ingestion API (closed loop as fast as the server
//! answers, or paced at a fixed rate), and hammers one endpoint with a fixed request.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::Value;

use crate::client::{Conn, PLATFORM};
use crate::{fail, Result};

/// Every bench message id is `kb-<seq>`; the sink finds the sequence number after this.
pub const MESSAGE_MARKER: &str = "\"kb-";

/// A ChatMessage on `post` with the bench's id `kb-<seq>`.
fn chat_message(post: &str, seq: u64) -> String {
    format!(
        r#"{{"id":"kb-{seq}","conversation":{{"id":"conv-bench","type":"POST","post_token":"{post}"}},"sender":{{"side":"BUYER","type":"HUMAN"}},"type":"TEXT","sent_at":1729429926140000,"text":"سلام، هنوز موجوده؟ قیمت نهایی چنده؟"}}"#
    )
}

/// One `new_message` ingestion item on `post`.
pub fn message_item(post: &str, seq: u64) -> String {
    format!(r#"{{"new_message":{}}}"#, chat_message(post, seq))
}

/// The webhook the server would send for event `seq`, for the raw scenario.
pub fn webhook_body(post: &str, seq: u64) -> Bytes {
    Bytes::from(format!(
        r#"{{"type":"NEW_MESSAGE","metadata":{{"bench":true}},"new_message":{}}}"#,
        chat_message(post, seq)
    ))
}

/// An ingestion body of the items `seqs` on `post`.
pub fn ingestion_body(post: &str, seqs: std::ops::Range<u64>) -> Bytes {
    let items: Vec<String> = seqs.map(|s| message_item(post, s)).collect();
    Bytes::from(format!(r#"{{"events":[{}]}}"#, items.join(",")))
}

/// When each event's ingestion call was sent, on the bench's clock: nanoseconds since `epoch`,
/// plus one (0 means not sent).
pub struct SendLog {
    pub epoch: Instant,
    sent: Vec<AtomicU64>,
}

impl SendLog {
    pub fn new(events: usize) -> Arc<SendLog> {
        Arc::new(SendLog {
            epoch: Instant::now(),
            sent: (0..events).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    fn mark(&self, seqs: std::ops::Range<u64>, at: Instant) {
        let nanos = u64::try_from(at.duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        for seq in seqs {
            if let Some(slot) = usize::try_from(seq).ok().and_then(|i| self.sent.get(i)) {
                slot.store(nanos.saturating_add(1), Ordering::Relaxed);
            }
        }
    }

    /// When event `seq`'s call was sent.
    pub fn sent_at(&self, seq: u32) -> Option<Instant> {
        let nanos = self.sent.get(seq as usize)?.load(Ordering::Relaxed);
        (nanos > 0).then(|| self.epoch + Duration::from_nanos(nanos - 1))
    }

    /// The earliest send.
    pub fn first(&self) -> Option<Instant> {
        self.sent
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .filter(|n| *n > 0)
            .min()
            .map(|n| self.epoch + Duration::from_nanos(n - 1))
    }
}

/// How a publication went, from the load generator's side.
pub struct Published {
    pub calls: u64,
    pub events: u64,
    pub elapsed: Duration,
    /// Each ingestion call's answer time.
    pub call_times: Vec<Duration>,
    /// How far behind schedule paced calls were sent, at worst.
    pub max_lag: Duration,
}

/// Where and how to publish.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub post: String,
}

/// Publishes events `0..total` in calls of `batch`, from `publishers` connections, each sending
/// its next call as soon as the previous one answered. Every item must be accepted.
pub async fn publish_closed(
    target: &Target,
    total: u64,
    batch: u64,
    publishers: usize,
    log: &Arc<SendLog>,
) -> Result<Published> {
    let next = Arc::new(AtomicU64::new(0));
    let batch = batch.max(1);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..publishers.max(1) {
        let (target, next, log) = (target.clone(), Arc::clone(&next), Arc::clone(log));
        workers.push(tokio::spawn(async move {
            let mut conn = Conn::open(target.addr).await?;
            let mut times = Vec::new();
            loop {
                let first = next.fetch_add(batch, Ordering::Relaxed);
                if first >= total {
                    return Ok::<_, crate::Error>(times);
                }
                let seqs = first..(first + batch).min(total);
                let body = ingestion_body(&target.post, seqs.clone());
                let sent = Instant::now();
                log.mark(seqs.clone(), sent);
                ingest(&mut conn, body, seqs.end - seqs.start).await?;
                times.push(sent.elapsed());
            }
        }));
    }
    let mut call_times = Vec::new();
    for w in workers {
        call_times.extend(w.await??);
    }
    Ok(Published {
        calls: call_times.len() as u64,
        events: total,
        elapsed: started.elapsed(),
        call_times,
        max_lag: Duration::ZERO,
    })
}

/// Publishes one event per call at `rate` calls per second for `duration` (open loop: a call is
/// sent at its time whether or not earlier ones have answered, from up to `connections` at once).
pub async fn publish_paced(
    target: &Target,
    rate: u32,
    duration: Duration,
    connections: usize,
    log: &Arc<SendLog>,
) -> Result<Published> {
    let total = (f64::from(rate) * duration.as_secs_f64()).round() as u64;
    let next = Arc::new(AtomicU64::new(0));
    let max_lag = Arc::new(Mutex::new(Duration::ZERO));
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let mut workers = Vec::new();
    for _ in 0..connections.max(1) {
        let (target, next, log, max_lag) = (
            target.clone(),
            Arc::clone(&next),
            Arc::clone(log),
            Arc::clone(&max_lag),
        );
        workers.push(tokio::spawn(async move {
            let mut conn = Conn::open(target.addr).await?;
            let mut times = Vec::new();
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= total {
                    return Ok::<_, crate::Error>(times);
                }
                let due = start + interval.mul_f64(seq as f64);
                tokio::time::sleep_until(due).await;
                let lag = tokio::time::Instant::now().saturating_duration_since(due);
                {
                    let mut max = max_lag.lock().unwrap_or_else(|e| e.into_inner());
                    *max = (*max).max(lag);
                }
                let body = ingestion_body(&target.post, seq..seq + 1);
                let sent = Instant::now();
                log.mark(seq..seq + 1, sent);
                ingest(&mut conn, body, 1).await?;
                times.push(sent.elapsed());
            }
        }));
    }
    let began = Instant::now();
    let mut call_times = Vec::new();
    for w in workers {
        call_times.extend(w.await??);
    }
    let max_lag = *max_lag.lock().unwrap_or_else(|e| e.into_inner());
    Ok(Published {
        calls: call_times.len() as u64,
        events: total,
        elapsed: began.elapsed(),
        call_times,
        max_lag,
    })
}

/// One ingestion call that must accept all of its `n` items.
async fn ingest(conn: &mut Conn, body: Bytes, n: u64) -> Result<()> {
    let bearer = format!("Bearer {PLATFORM}");
    let (status, answer) = conn
        .post("/v1/platform/events", &[("authorization", &bearer)], body)
        .await?;
    if status != StatusCode::OK {
        return Err(fail!(
            "ingestion answered {status}: {}",
            String::from_utf8_lossy(&answer)
        ));
    }
    let v: Value = serde_json::from_slice(&answer)?;
    let results = v["results"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let accepted = results.iter().filter(|r| r["event_id"].is_string()).count() as u64;
    if accepted != n {
        return Err(fail!("ingestion accepted {accepted} of {n} events: {v}"));
    }
    Ok(())
}

/// A request to send over and over, with what makes each one distinct.
pub trait Shot: Send + Sync + 'static {
    /// The path, headers and body of request number `i`.
    fn request(&self, i: u64) -> (String, Vec<(String, String)>, Bytes);
}

/// Sends requests from `connections` keep-alive connections until `count` were sent or
/// `duration` passed, whichever comes first; every answer must be `200`. Returns (requests,
/// elapsed).
pub async fn hammer(
    addr: SocketAddr,
    shot: Arc<dyn Shot>,
    connections: usize,
    count: Option<u64>,
    duration: Option<Duration>,
) -> Result<(u64, Duration)> {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = duration.map(|d| started + d);
    let limit = count.unwrap_or(u64::MAX);
    let mut workers = Vec::new();
    for _ in 0..connections.max(1) {
        let (shot, next) = (Arc::clone(&shot), Arc::clone(&next));
        workers.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut done = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= limit || deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok::<_, crate::Error>(done);
                }
                let (path, headers, body) = shot.request(i);
                let headers: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                let (status, answer) = conn.post(&path, &headers, body).await?;
                if status != StatusCode::OK {
                    return Err(fail!(
                        "{path} answered {status}: {}",
                        String::from_utf8_lossy(&answer)
                    ));
                }
                done += 1;
            }
        }));
    }
    let mut total = 0;
    for w in workers {
        total += w.await??;
    }
    Ok((total, started.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ingestion_body_is_json_with_one_item_per_sequence_number() {
        let body = ingestion_body("benchP01", 5..8);
        let v: Value = serde_json::from_slice(&body).expect("JSON");
        let events = v["events"].as_array().expect("events");
        assert_eq!(events.len(), 3);
        assert_eq!(events[0]["new_message"]["id"], "kb-5");
        assert_eq!(
            events[2]["new_message"]["conversation"]["post_token"],
            "benchP01"
        );
    }

    #[test]
    fn the_send_log_remembers_when_each_event_left() {
        let log = SendLog::new(4);
        assert!(log.sent_at(1).is_none());
        let at = Instant::now();
        log.mark(1..3, at);
        assert!(log.sent_at(1).is_some() && log.sent_at(2).is_some());
        assert!(log.sent_at(3).is_none() && log.sent_at(9).is_none());
        assert_eq!(log.first(), log.sent_at(1));
    }
}

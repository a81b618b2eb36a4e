//! A lean HTTP/1.1 client: one keep-alive connection per worker, straight on hyper, so that the
//! load generator spends as little CPU per request as it can; and the administration calls the
//! scenarios set their world up with.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

use crate::{fail, Result};

/// The admin token the bench starts the server with.
pub const ADMIN: &str = "bench-admin-token";
/// The platform token the bench starts the server with.
pub const PLATFORM: &str = "bench-platform-token";

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    send: SendRequest<Full<Bytes>>,
    /// `Host` header value; hyper's connection-level client does not add it.
    host: String,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Result<Conn> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        stream.set_nodelay(true)?;
        let (send, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Ends when the peer closes or the `SendRequest` is dropped; an error shows up on
            // the next request instead.
            let _ = connection.await;
        });
        Ok(Conn {
            send,
            host: addr.to_string(),
        })
    }

    /// Sends one request and reads the whole answer.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<(StatusCode, Bytes)> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host);
        if !body.is_empty() {
            builder = builder.header("content-type", "application/json");
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(body))?;
        self.send.ready().await?;
        let response = self.send.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    pub async fn post(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<(StatusCode, Bytes)> {
        self.request(Method::POST, path, headers, body).await
    }
}

/// The administration API of one server, for setting a scenario's world up.
pub struct Admin {
    conn: Conn,
    bearer: String,
}

impl Admin {
    pub async fn connect(addr: SocketAddr) -> Result<Admin> {
        Ok(Admin {
            conn: Conn::open(addr).await?,
            bearer: format!("Bearer {ADMIN}"),
        })
    }

    async fn call(&mut self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let headers = [("authorization", self.bearer.as_str())];
        let (status, answer) = self.conn.request(method, path, &headers, body).await?;
        if !status.is_success() {
            return Err(fail!(
                "{path}: {status}: {}",
                String::from_utf8_lossy(&answer)
            ));
        }
        if answer.is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_slice(&answer)?)
    }

    pub async fn create_app(&mut self, slug: &str, webhook_url: &str) -> Result<()> {
        // The register scenario calls the public API far beyond the default rate limits,
        // which would then be what it measures.
        let body = json!({"slug": slug, "name": slug, "webhook_url": webhook_url,
                          "rate_limit_per_minute": 1_000_000_000i64,
                          "daily_quota": 1_000_000_000_000i64});
        self.call(Method::POST, "/admin/v1/apps", Some(body))
            .await?;
        Ok(())
    }

    /// An API key of the app allowed to register subscriptions.
    pub async fn create_key(&mut self, slug: &str) -> Result<String> {
        let body = json!({"name": "bench", "permissions": ["EVENTS_REGISTER_SUBSCRIPTION"]});
        let v = self
            .call(
                Method::POST,
                &format!("/admin/v1/apps/{slug}/keys"),
                Some(body),
            )
            .await?;
        string_field(&v, "key")
    }

    pub async fn create_user(&mut self, id: &str) -> Result<()> {
        self.call(Method::POST, "/admin/v1/users", Some(json!({"id": id})))
            .await?;
        Ok(())
    }

    pub async fn create_post(&mut self, token: &str, owner: &str) -> Result<()> {
        let body = json!({"token": token, "owner_id": owner});
        self.call(Method::POST, "/admin/v1/posts", Some(body))
            .await?;
        Ok(())
    }

    /// An access token of `user` for the app, valid for a day.
    pub async fn mint_token(&mut self, slug: &str, user: &str, scopes: &[&str]) -> Result<String> {
        let body = json!({"user_id": user, "scopes": scopes, "expires_in": 86_400});
        let v = self
            .call(
                Method::POST,
                &format!("/admin/v1/apps/{slug}/tokens"),
                Some(body),
            )
            .await?;
        string_field(&v, "access_token")
    }

    /// Whether the app's endpoint is disabled now.
    pub async fn webhook_disabled(&mut self, slug: &str) -> Result<bool> {
        let v = self
            .call(Method::GET, &format!("/admin/v1/apps/{slug}"), None)
            .await?;
        Ok(v["webhook_disabled_at"].is_string())
    }

    pub async fn enable_webhook(&mut self, slug: &str) -> Result<()> {
        self.call(
            Method::POST,
            &format!("/admin/v1/apps/{slug}/webhook/enable"),
            None,
        )
        .await?;
        Ok(())
    }
}

fn string_field(v: &Value, name: &str) -> Result<String> {
    v[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| fail!("answer without {name}: {v}"))
}

/// Registers a subscription through the public API, as an app would; returns the status.
pub async fn register(
    conn: &mut Conn,
    key: &str,
    bearer: &str,
    body: Bytes,
) -> Result<(StatusCode, Bytes)> {
    conn.post(
        "/v1/open-platform/events/subscriptions",
        &[("x-api-key", key), ("authorization", bearer)],
        body,
    )
    .await
}

/// Registers a `NEW_MESSAGE_ON_POST` subscription and insists on `200`.
pub async fn subscribe(addr: SocketAddr, key: &str, token: &str, post: Option<&str>) -> Result<()> {
    let mut conn = Conn::open(addr).await?;
    let mut body = json!({"event_type": "NEW_MESSAGE_ON_POST", "metadata": {"bench": true}});
    if let Some(post) = post {
        body["event_resource_id"] = json!(post);
    }
    let bearer = format!("Bearer {token}");
    let (status, answer) = register(&mut conn, key, &bearer, Bytes::from(body.to_string())).await?;
    if status != StatusCode::OK {
        return Err(fail!(
            "registering a subscription: {status}: {}",
            String::from_utf8_lossy(&answer)
        ));
    }
    Ok(())
}

/// How many deliveries the server started from ingestion's hand-over and how many from claims
/// on the store's queue, read from its `/metrics`.
pub async fn started_via(addr: SocketAddr) -> Result<(u64, u64)> {
    let mut conn = Conn::open(addr).await?;
    let (status, text) = conn
        .request(Method::GET, "/metrics", &[], Bytes::new())
        .await?;
    if !status.is_success() {
        return Err(fail!("/metrics: {status}"));
    }
    let text = String::from_utf8_lossy(&text);
    let count = |via: &str| {
        let prefix = format!("kenar_deliveries_started_total{{via=\"{via}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((count("handoff"), count("claim")))
}

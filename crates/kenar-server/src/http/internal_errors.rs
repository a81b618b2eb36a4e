//! The outermost layer: logs the cause of every internal error (and of every answer that the
//! database was out of reach) with the request's method and path, and hands axum a plain
//! `Response`. The client saw only that something failed.
//!
//! It wraps the whole router once. `Router::layer` would wrap each route instead, and every
//! request then cloned that route's boxed stack and boxed the middleware's future again: about
//! 3 % of the server's CPU in the register benchmark (`perf`; the section of `76fa28d` in
//! docs/benchmarks-history.md).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{Method, Uri};
use axum::response::Response;
use axum::BoxError;
use tower_service::Service;

use super::error::InternalCause;

/// See the module's documentation.
#[derive(Clone, Debug)]
pub struct LogInternalErrors<S> {
    inner: S,
}

impl<S> LogInternalErrors<S> {
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S, B> Service<Request> for LogInternalErrors<S>
where
    S: Service<Request, Response = axum::http::Response<B>, Error = Infallible>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Logged<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // Both clones share the request's buffers; nothing is formatted unless it failed.
        let method = req.method().clone();
        let uri = req.uri().clone();
        Logged {
            inner: self.inner.call(req),
            request: Some((method, uri)),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response of [`LogInternalErrors`].
    pub struct Logged<F> {
        #[pin]
        inner: F,
        request: Option<(Method, Uri)>,
    }
}

impl<F, B> Future for Logged<F>
where
    F: Future<Output = Result<axum::http::Response<B>, Infallible>>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = std::task::ready!(this.inner.poll(cx));
        if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
            let chain = crate::error_chain(&**cause);
            let (method, uri) = this.request.take().unwrap_or_default();
            let path = uri.path();
            tracing::error!(%method, %path, error = %chain, "request failed");
        }
        Poll::Ready(Ok(response.map(Body::new)))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::get;
    use axum::Router;
    use http_body_util::BodyExt;

    use super::*;
    use crate::http::error::ApiError;

    #[derive(Debug, thiserror::Error)]
    #[error("could not write")]
    struct CouldNotWrite(#[source] std::io::Error);

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    async fn call(path: &str) -> (StatusCode, String, String) {
        let router = Router::new()
            .route("/fine", get(|| async { "fine" }))
            .route(
                "/broken",
                get(|| async {
                    let cause = CouldNotWrite(std::io::Error::other("disk on fire"));
                    ApiError::internal(cause).into_response()
                }),
            );
        let mut service = LogInternalErrors::new(router);
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let request = Request::get(path).body(Body::empty()).expect("request");
        let Ok(response) = service.call(request).await;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let log = captured.0.lock().expect("log buffer").clone();
        (
            status,
            String::from_utf8_lossy(&body).into_owned(),
            String::from_utf8_lossy(&log).into_owned(),
        )
    }

    #[tokio::test]
    async fn an_internal_error_is_logged_with_its_request_and_cause_chain() {
        let (status, body, log) = call("/broken?token=x").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            !body.contains("disk on fire"),
            "the client sees no cause: {body}"
        );
        assert!(log.contains("request failed"), "{log}");
        assert!(log.contains("method=GET"), "{log}");
        assert!(
            log.contains("path=/broken "),
            "the query is not logged: {log}"
        );
        assert!(log.contains("could not write: disk on fire"), "{log}");
    }

    #[tokio::test]
    async fn other_responses_pass_unchanged_and_unlogged() {
        let (status, body, log) = call("/fine").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "fine");
        assert_eq!(log, "");
    }
}

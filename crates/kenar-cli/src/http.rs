//! Calls to the server's administration and ingestion APIs (bearer tokens, JSON both ways).
//! The public Events API goes through the SDK instead.

use std::time::Duration;

use kenar_wire::json::FromJson;
use kenar_wire::status::{Code, Status};
use reqwest::{Method, Url};
use serde_json::Value;

use crate::error::{describe_transport, CliError, CliResult};
use crate::settings::Secret;

/// The `User-Agent` of every request this tool makes.
pub const USER_AGENT: &str = concat!("kenar-cli/", env!("CARGO_PKG_VERSION"));

/// A successful answer: the body as the server sent it (to print under `--json`) and parsed.
#[derive(Debug, Clone)]
pub struct Answer {
    pub raw: String,
    pub value: Value,
}

/// A client of one server.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: Url,
}

impl Api {
    pub fn new(base_url: &str) -> CliResult<Api> {
        let base = parse_base_url(base_url)?;
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            // No API answer redirects; following one could carry a token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| CliError::usage(format!("cannot build the HTTP client: {e}")))?;
        Ok(Api { http, base })
    }

    /// The URL of `segments` (each percent-encoded as one path segment) under the base URL.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Makes one call and reads its answer; an error status becomes [`CliError::Api`].
    pub async fn call(
        &self,
        method: Method,
        segments: &[&str],
        token: &Secret,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> CliResult<Answer> {
        let url = self.url(segments);
        let mut request = self
            .http
            .request(method, url.clone())
            .bearer_auth(token.expose());
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| CliError::Transport(describe_transport(&e, url.as_str())))?;
        read_answer(response, url.as_str()).await
    }

    pub async fn get(
        &self,
        segments: &[&str],
        token: &Secret,
        query: &[(&str, String)],
    ) -> CliResult<Answer> {
        self.call(Method::GET, segments, token, query, None).await
    }

    pub async fn post(&self, segments: &[&str], token: &Secret, body: &Value) -> CliResult<Answer> {
        self.call(Method::POST, segments, token, &[], Some(body))
            .await
    }
}

/// Reads an answer: its body for a success, a [`CliError::Api`] otherwise.
pub async fn read_answer(response: reqwest::Response, url: &str) -> CliResult<Answer> {
    let status = response.status().as_u16();
    let raw = response
        .text()
        .await
        .map_err(|e| CliError::Transport(describe_transport(&e, url)))?;
    if !(200..300).contains(&status) {
        return Err(api_error(status, &raw));
    }
    let value = if raw.trim().is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_str(&raw)
            .map_err(|e| CliError::Unexpected(format!("HTTP {status}, not JSON: {e}")))?
    };
    Ok(Answer { raw, value })
}

/// The error of an answer with status `http_status` and body `raw`: its `google.rpc.Status`,
/// or one made from the HTTP status when the body is something else (a proxy's page, say).
pub fn api_error(http_status: u16, raw: &str) -> CliError {
    let parsed = serde_json::from_str::<Value>(raw)
        .ok()
        .and_then(|v| Status::from_json(&v).ok());
    let status = parsed.unwrap_or_else(|| {
        let excerpt: String = raw.chars().take(200).collect();
        Status::new(
            Code::from_http_status(http_status),
            format!("HTTP {http_status} without a google.rpc.Status body: {excerpt}"),
        )
    });
    CliError::Api {
        http_status,
        status,
    }
}

/// An `http` or `https` URL without query or fragment.
pub fn parse_base_url(raw: &str) -> CliResult<Url> {
    let url =
        Url::parse(raw).map_err(|e| CliError::usage(format!("invalid base URL {raw:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(CliError::usage(format!(
            "invalid base URL {raw:?}: expected http(s)://host[:port][/path]"
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_and_appended_to_the_base_path() {
        let api = Api::new("http://127.0.0.1:8080/kenar/").expect("valid");
        assert_eq!(
            api.url(&["admin", "v1", "apps", "a b/c"]).as_str(),
            "http://127.0.0.1:8080/kenar/admin/v1/apps/a%20b%2Fc"
        );
        let api = Api::new("http://127.0.0.1:8080").expect("valid");
        assert_eq!(
            api.url(&["admin", "v1", "apps"]).as_str(),
            "http://127.0.0.1:8080/admin/v1/apps"
        );
        assert!(Api::new("ftp://x").is_err());
        assert!(Api::new("not a url").is_err());
    }

    #[test]
    fn an_error_body_is_read_as_a_status_or_made_up_from_the_http_status() {
        let e = api_error(
            401,
            r#"{"code": 16, "message": "bad admin token", "details": []}"#,
        );
        assert_eq!(e.to_string(), "HTTP 401 UNAUTHENTICATED: bad admin token");
        let e = api_error(502, "<html>bad gateway</html>");
        assert!(
            e.to_string()
                .starts_with("HTTP 502 INTERNAL: HTTP 502 without"),
            "{e}"
        );
    }
}

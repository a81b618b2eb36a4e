//! The OAuth helpers against a stub token endpoint.

use std::collections::HashMap;

use kenar_sdk::oauth::{state_matches, OAuthClient, PkceVerifier, Scope};
use kenar_sdk::{Error, RefreshToken, RetryPolicy};
use serde_json::json;

use crate::support::{json_response, status_response, Recorded, Stub};

fn form(r: &Recorded) -> HashMap<String, String> {
    url::form_urlencoded::parse(&r.body).into_owned().collect()
}

async fn token_server() -> Stub {
    Stub::start(|_, r| {
        let f = form(r);
        match f.get("grant_type").map(String::as_str) {
            Some("authorization_code") if f.get("code").map(String::as_str) == Some("good") => {
                json_response(
                    200,
                    &json!({"access_token": "at-1", "expires_in": 3600, "token_type": "bearer",
                            "scope": "CHAT_POST_CONVERSATIONS_READ.gZd7omnS offline_access",
                            "refresh_token": "rt-1"}),
                    &[],
                )
            }
            Some("refresh_token") if f.get("refresh_token").map(String::as_str) == Some("rt-1") => {
                json_response(
                    200,
                    &json!({"access_token": "at-2", "expires_in": 3600, "token_type": "bearer",
                            "scope": "CHAT_POST_CONVERSATIONS_READ.gZd7omnS offline_access",
                            "refresh_token": "rt-2"}),
                    &[],
                )
            }
            _ => json_response(
                400,
                &json!({"error": "invalid_grant", "error_description": "the code is not valid"}),
                &[],
            ),
        }
    })
    .await
}

fn oauth(stub: &Stub) -> OAuthClient {
    OAuthClient::builder("my-app", "kenar_cs_secret", "http://127.0.0.1:1/callback")
        .base_url(stub.url())
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("a client")
}

#[tokio::test]
async fn the_authorization_code_flow_exchanges_a_code_and_refreshes() {
    let stub = token_server().await;
    let oauth = oauth(&stub);
    let request = oauth
        .authorization_request([
            Scope::chat_post_conversations_read("gZd7omnS"),
            Scope::offline_access(),
        ])
        .expect("a URL");
    assert!(request.url.as_str().starts_with(&format!(
        "{}/oauth2/auth?response_type=code&client_id=my-app",
        stub.url()
    )));
    let returned_state = request
        .url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("a state");
    assert!(state_matches(&request.state, &returned_state));

    // The verifier survives a round trip through the app's session storage.
    let kept = PkceVerifier::from_string(request.pkce_verifier.expose()).expect("valid");
    let tokens = oauth.exchange_code("good", &kept).await.expect("exchanged");
    assert_eq!(tokens.access_token.expose(), "at-1");
    assert_eq!(tokens.expires_in, Some(3600));
    assert_eq!(tokens.token_type, "bearer");
    assert_eq!(
        tokens.scopes().collect::<Vec<_>>(),
        [
            Scope::chat_post_conversations_read("gZd7omnS"),
            Scope::offline_access()
        ]
    );
    let r = &stub.requests()[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/oauth2/token")
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let f = form(r);
    assert_eq!(f["grant_type"], "authorization_code");
    assert_eq!(f["code"], "good");
    assert_eq!(f["redirect_uri"], "http://127.0.0.1:1/callback");
    assert_eq!(f["client_id"], "my-app");
    assert_eq!(f["client_secret"], "kenar_cs_secret");
    assert_eq!(f["code_verifier"], request.pkce_verifier.expose());
    assert_eq!(f.len(), 6);

    let refresh = tokens
        .refresh_token
        .expect("offline access gives a refresh token");
    let renewed = oauth.refresh(&refresh).await.expect("refreshed");
    assert_eq!(renewed.access_token.expose(), "at-2");
    assert_eq!(renewed.refresh_token, Some(RefreshToken::new("rt-2")));
    let f = form(&stub.requests()[1]);
    assert_eq!(f["grant_type"], "refresh_token");
    assert_eq!(f["refresh_token"], "rt-1");
    assert_eq!(f["client_id"], "my-app");
    assert_eq!(f["client_secret"], "kenar_cs_secret");
    assert_eq!(f.len(), 4);
}

#[tokio::test]
async fn a_refused_grant_is_an_oauth_error() {
    let stub = token_server().await;
    let verifier = PkceVerifier::generate().expect("random");
    let err = oauth(&stub)
        .exchange_code("used", &verifier)
        .await
        .expect_err("refused");
    let Error::OAuth(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.http_status(), 400);
    assert_eq!(e.error(), "invalid_grant");
    assert_eq!(e.description(), Some("the code is not valid"));
    assert_eq!(err.http_status(), Some(400));
}

#[tokio::test]
async fn a_token_endpoint_answer_without_an_oauth_body_is_unexpected() {
    let stub = Stub::start(|_, _| status_response(500, 13, "boom", &[])).await;
    let err = oauth(&stub)
        .refresh(&RefreshToken::new("rt"))
        .await
        .expect_err("failed");
    assert!(
        matches!(
            err,
            Error::UnexpectedResponse {
                http_status: 500,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_token_request_is_retried_after_a_503_but_not_after_a_500() {
    let stub = Stub::start(|n, _| match n {
        0 => status_response(503, 14, "busy", &[]),
        _ => status_response(500, 13, "boom", &[]),
    })
    .await;
    let oauth = OAuthClient::builder("my-app", "s", "http://127.0.0.1:1/cb")
        .base_url(stub.url())
        .retry_policy(
            RetryPolicy::default()
                .max_retries(3)
                .initial_backoff(std::time::Duration::from_millis(5)),
        )
        .build()
        .expect("a client");
    let _ = oauth.refresh(&RefreshToken::new("rt")).await;
    assert_eq!(
        stub.requests().len(),
        2,
        "503 retried once, then the 500 returned"
    );
}

/// The `name` and `value` of every `<input type="hidden">` of an HTML page, unescaped.
fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let attribute = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let len = tag[start..].find('"')?;
        Some(unescape(&tag[start..start + len]))
    };
    html.split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            if !tag.contains("type=\"hidden\"") {
                return None;
            }
            Some((attribute(tag, "name")?, attribute(tag, "value")?))
        })
        .collect()
}

#[tokio::test]
async fn the_oauth_helpers_complete_a_grant_with_the_real_server() {
    use crate::support::DevServer;
    use reqwest::Method;

    let server = DevServer::start();
    let base = server.get("base_url");
    let post = server.get("post_token");
    let redirect_uri = "http://127.0.0.1:1/callback";
    let secret = server
        .admin(
            Method::POST,
            "/admin/v1/apps/dev-app/client-secret",
            json!({}),
        )
        .await;
    server
        .admin(
            Method::PATCH,
            "/admin/v1/apps/dev-app",
            json!({"redirect_uris": [redirect_uri]}),
        )
        .await;
    let oauth = OAuthClient::builder(
        "dev-app",
        secret["client_secret"].as_str().expect("a client secret"),
        redirect_uri,
    )
    .base_url(&base)
    .build()
    .expect("a client");
    let request = oauth
        .authorization_request([
            Scope::chat_post_conversations_read(&post),
            Scope::offline_access(),
        ])
        .expect("a URL");

    // The user signs in and approves, as a browser would.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let login = browser
        .post(format!("{base}/oauth2/login"))
        .form(&[("user_id", server.get("platform_user_id"))])
        .send()
        .await
        .expect("signed in");
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie: {}", login.status()))
        .to_owned();
    let consent = browser
        .get(request.url.clone())
        .header("cookie", &cookie)
        .send()
        .await
        .expect("the consent page");
    assert_eq!(
        consent.status(),
        200,
        "the server accepts the authorization URL"
    );
    let mut fields = hidden_inputs(&consent.text().await.expect("HTML"));
    assert!(
        fields
            .iter()
            .any(|(k, v)| k == "code_challenge" && *v == request.pkce_verifier.challenge()),
        "{fields:?}"
    );
    fields.push(("decision".into(), "approve".into()));
    let approved = browser
        .post(format!("{base}/oauth2/auth"))
        .header("cookie", &cookie)
        .form(&fields)
        .send()
        .await
        .expect("approved");
    let location = approved
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no redirect: {}", approved.status()));
    let back = url::Url::parse(location).expect("a URL");
    assert!(location.starts_with(redirect_uri), "{location}");
    let param = |name: &str| {
        back.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {location}"))
    };
    assert!(state_matches(&request.state, &param("state")));

    let tokens = oauth
        .exchange_code(&param("code"), &request.pkce_verifier)
        .await
        .expect("the code is exchanged");
    assert!(tokens
        .scopes()
        .any(|s| s == Scope::chat_post_conversations_read(&post)));

    // The token works with the Events API.
    server
        .client()
        .with_access_token(tokens.access_token.clone())
        .events()
        .register_subscription(kenar_sdk::RegisterSubscription::new_messages_on_post(&post))
        .await
        .expect("the granted token subscribes");

    let refresh = tokens
        .refresh_token
        .expect("offline_access gives a refresh token");
    let renewed = oauth.refresh(&refresh).await.expect("refreshed");
    assert_ne!(renewed.access_token, tokens.access_token);
    server
        .client()
        .with_access_token(renewed.access_token)
        .events()
        .register_subscription(kenar_sdk::RegisterSubscription::new_messages_on_post(&post))
        .await
        .expect("the refreshed token subscribes");

    // Last, as the server then revokes what the code gave (RFC 6749 §4.1.2).
    let err = oauth
        .exchange_code(&param("code"), &request.pkce_verifier)
        .await
        .expect_err("a code is single use");
    assert!(
        matches!(&err, Error::OAuth(e) if e.error() == "invalid_grant"),
        "{err:?}"
    );
}

//! The authorization-code flow driven by a real HTTP client that follows redirects and keeps
//! cookies: dev login, consent, code, PKCE, token, refresh with its grace, reuse, expiry,
//! revocation by the app and by the user.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{expect_json, Backend, TestApp};
use crate::receiver::Receiver;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The app's redirect target: records the query strings it is sent to.
async fn callback_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let recorded = Arc::clone(&seen);
    let router = axum::Router::new().route(
        "/callback",
        axum::routing::get(move |axum::extract::RawQuery(q): axum::extract::RawQuery| {
            let recorded = Arc::clone(&recorded);
            async move {
                recorded.lock().expect("lock").push(q.unwrap_or_default());
                "you may close this window"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/callback", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, seen)
}

fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The hidden fields of the consent form.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|part| {
            let name = part.split("name=\"").nth(1)?.split('"').next()?;
            let value = part.split("value=\"").nth(1)?.split('"').next()?;
            let unescape = |s: &str| {
                s.replace("&quot;", "\"")
                    .replace("&#39;", "'")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&")
            };
            Some((unescape(name), unescape(value)))
        })
        .collect()
}

struct Flow {
    app: TestApp,
    callback: String,
    seen: Arc<Mutex<Vec<String>>>,
    secret: String,
    key: String,
    /// A browser: follows redirects, keeps cookies.
    browser: Client,
}

async fn flow_with(backend: Backend, adjust: impl FnOnce(&mut kenar_server::Settings)) -> Flow {
    let app = TestApp::spawn_with(backend, adjust).await;
    let (callback, seen) = callback_server().await;
    let rx = Receiver::start().await;
    let r = app
        .admin_post(
            "/admin/v1/apps",
            json!({"slug": "oauth-app", "name": "OAuth App", "webhook_url": rx.url,
                   "redirect_uris": [callback]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .admin_post("/admin/v1/apps/oauth-app/client-secret", json!({}))
        .await;
    let secret = expect_json(r, StatusCode::CREATED).await["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    app.create_user("u-1").await;
    app.create_post("gZd7omnS", "u-1").await;
    let key = app
        .create_key("oauth-app", &["EVENTS_REGISTER_SUBSCRIPTION"])
        .await;
    let browser = Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    Flow {
        app,
        callback,
        seen,
        secret,
        key,
        browser,
    }
}

impl Flow {
    fn auth_url(&self, scope: &str, extra: &[(&str, &str)]) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("response_type", "code")
            .append_pair("client_id", "oauth-app")
            .append_pair("redirect_uri", &self.callback)
            .append_pair("scope", scope)
            .append_pair("state", "xyz-state");
        for (k, v) in extra {
            q.append_pair(k, v);
        }
        self.app.url(&format!("/oauth2/auth?{}", q.finish()))
    }

    /// Opens the authorization URL, signs in as `user` if asked, and answers the consent page
    /// with `decision`. Returns the query the app's callback received.
    async fn authorize(&self, url: &str, user: &str, decision: &str) -> String {
        let r = self.browser.get(url).send().await.expect("auth");
        let mut page = r.text().await.expect("page");
        if page.contains("action=\"/oauth2/login\"") {
            let next = hidden_fields(&page)
                .into_iter()
                .find(|(k, _)| k == "next")
                .map(|(_, v)| v)
                .expect("next");
            let r = self
                .browser
                .post(self.app.url("/oauth2/login"))
                .form(&[("user_id", user), ("next", next.as_str())])
                .send()
                .await
                .expect("login");
            page = r.text().await.expect("consent");
        }
        assert!(page.contains("Allow access?"), "not a consent page: {page}");
        let mut fields = hidden_fields(&page);
        fields.push(("decision".into(), decision.into()));
        let before = self.seen.lock().expect("lock").len();
        let r = self
            .browser
            .post(self.app.url("/oauth2/auth"))
            .form(&fields)
            .send()
            .await
            .expect("decision");
        assert_eq!(r.status(), 200, "the browser ends at the app's callback");
        let seen = self.seen.lock().expect("lock");
        assert_eq!(seen.len(), before + 1);
        seen[before].clone()
    }

    async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut all = vec![
            ("client_id", "oauth-app"),
            ("client_secret", self.secret.as_str()),
        ];
        all.extend_from_slice(form);
        let r = self
            .app
            .client
            .post(self.app.url("/oauth2/token"))
            .form(&all)
            .send()
            .await
            .expect("token");
        let status = r.status();
        (status, r.json().await.expect("json"))
    }

    async fn code(&self, scope: &str) -> String {
        let q = self
            .authorize(
                &self.auth_url(
                    scope,
                    &[
                        ("code_challenge", CHALLENGE),
                        ("code_challenge_method", "S256"),
                    ],
                ),
                "u-1",
                "approve",
            )
            .await;
        assert_eq!(query_param(&q, "state").as_deref(), Some("xyz-state"));
        query_param(&q, "code").expect("code")
    }

    async fn exchange(&self, code: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.callback.clone()),
            ("code_verifier", VERIFIER),
        ])
        .await
    }

    async fn register_with(&self, token: &str) -> StatusCode {
        self.app
            .register(
                Some(&self.key),
                Some(token),
                json!({"event_type": "POST_UPDATE"}),
            )
            .await
            .status()
    }
}

async fn the_code_flow_with_pkce_issues_working_tokens_once(backend: Backend) {
    let f = flow_with(backend, |_| {}).await;
    let code = f
        .code("USER_POSTS_GET CHAT_POST_CONVERSATIONS_READ.gZd7omnS")
        .await;
    let (status, tokens) = f.exchange(&code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(
        tokens["scope"],
        "USER_POSTS_GET CHAT_POST_CONVERSATIONS_READ.gZd7omnS"
    );
    assert!(
        tokens.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );
    let access = tokens["access_token"].as_str().expect("token").to_owned();
    assert_eq!(f.register_with(&access).await, 200);

    // The code is single use; its second use revokes what the first bought.
    let (status, e) = f.exchange(&code).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(f.register_with(&access).await, 401);
    f.app.stop().await;
}

async fn pkce_and_client_checks_refuse_what_they_must(backend: Backend) {
    let f = flow_with(backend, |_| {}).await;
    let code = f.code("USER_POSTS_GET").await;
    let cb = f.callback.clone();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &cb),
                ("code_verifier", "x".repeat(43).leak()),
            ],
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &cb),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://evil.example/cb"),
                ("code_verifier", VERIFIER),
            ],
            "invalid_grant",
        ),
        (
            vec![("grant_type", "password"), ("username", "u-1")],
            "unsupported_grant_type",
        ),
        (vec![("code", &code)], "invalid_request"),
    ];
    for (form, expected) in cases {
        let (status, e) = f.token(&form).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(expected)),
            "{form:?}"
        );
    }
    // None of the failures consumed the code.
    assert_eq!(f.exchange(&code).await.0, 200);

    let r = f
        .app
        .client
        .post(f.app.url("/oauth2/token"))
        .basic_auth("oauth-app", Some("wrong"))
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "invalid_client"
    );
    // HTTP Basic works as well as the form.
    let code = f.code("USER_POSTS_GET").await;
    let r = f
        .app
        .client
        .post(f.app.url("/oauth2/token"))
        .basic_auth("oauth-app", Some(&f.secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", cb.as_str()),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    f.app.stop().await;
}

async fn authorization_errors_redirect_or_show_as_the_rfc_says(backend: Backend) {
    let f = flow_with(backend, |_| {}).await;
    // A redirect URI that is not registered is shown, never redirected to.
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", "oauth-app")
        .append_pair("redirect_uri", "http://evil.example/cb")
        .append_pair("scope", "USER_POSTS_GET");
    let r = f
        .browser
        .get(f.app.url(&format!("/oauth2/auth?{}", q.finish())))
        .send()
        .await
        .expect("auth");
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .expect("page")
        .contains("redirect_uri is not registered"));
    let r = f
        .browser
        .get(
            f.app
                .url("/oauth2/auth?response_type=code&client_id=nobody"),
        )
        .send()
        .await
        .expect("auth");
    assert_eq!(r.status(), 400);
    assert!(f.seen.lock().expect("lock").is_empty());

    // Other errors go back to the app with the state.
    for (url, error) in [
        (f.auth_url("NOT_A_SCOPE", &[]), "invalid_scope"),
        (
            f.auth_url(
                "USER_POSTS_GET",
                &[
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", "plain"),
                ],
            ),
            "invalid_request",
        ),
        (
            f.auth_url("USER_POSTS_GET", &[])
                .replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
    ] {
        let r = f.browser.get(&url).send().await.expect("auth");
        assert_eq!(r.status(), 200);
        let q = f
            .seen
            .lock()
            .expect("lock")
            .last()
            .cloned()
            .expect("redirected");
        assert_eq!(query_param(&q, "error").as_deref(), Some(error), "{url}");
        assert_eq!(query_param(&q, "state").as_deref(), Some("xyz-state"));
    }
    let q = f
        .authorize(&f.auth_url("USER_POSTS_GET", &[]), "u-1", "deny")
        .await;
    assert_eq!(query_param(&q, "error").as_deref(), Some("access_denied"));
    // Someone else's post cannot be asked for.
    f.app.create_user("u-2").await;
    f.app.create_post("otherPst", "u-2").await;
    let q = f
        .authorize(
            &f.auth_url("CHAT_POST_CONVERSATIONS_READ.otherPst", &[]),
            "u-1",
            "approve",
        )
        .await;
    assert_eq!(query_param(&q, "error").as_deref(), Some("invalid_scope"));

    // A production app only gets what the operator granted it.
    let r = f
        .app
        .admin(
            reqwest::Method::PATCH,
            "/admin/v1/apps/oauth-app",
            Some(json!({"kind": "PRODUCTION", "granted_scopes": ["USER_POSTS_GET"]})),
        )
        .await;
    assert_eq!(r.status(), 200);
    f.browser
        .get(f.auth_url("USER_POSTS_GET SEND_EVENT", &[]))
        .send()
        .await
        .expect("auth");
    let q = f
        .seen
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("redirected");
    assert_eq!(query_param(&q, "error").as_deref(), Some("invalid_scope"));
    assert!(f.code("USER_POSTS_GET").await.starts_with("kenar_ac_"));
    f.app.stop().await;
}

async fn an_expired_code_is_refused(backend: Backend) {
    let f = flow_with(backend, |s| s.oauth.code_ttl = Duration::ZERO).await;
    let code = f.code("USER_POSTS_GET").await;
    let (status, e) = f.exchange(&code).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    f.app.stop().await;
}

async fn refresh_rotates_both_tokens_with_a_grace_for_the_old_access_token(backend: Backend) {
    let f = flow_with(backend, |_| {}).await;
    let code = f.code("USER_POSTS_GET offline_access").await;
    let (_, first) = f.exchange(&code).await;
    let old_access = first["access_token"].as_str().expect("access").to_owned();
    let old_refresh = first["refresh_token"].as_str().expect("refresh").to_owned();
    let (status, second) = f
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &old_refresh),
        ])
        .await;
    assert_eq!(status, 200, "{second}");
    let new_access = second["access_token"].as_str().expect("access").to_owned();
    let new_refresh = second["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_ne!(new_access, old_access);
    assert_ne!(new_refresh, old_refresh);
    // Within the two minutes, both access tokens work.
    assert_eq!(f.register_with(&old_access).await, 200);
    assert_eq!(f.register_with(&new_access).await, 200);
    // A narrower scope may be asked; a wider one not.
    let (status, e) = f
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &new_refresh),
            ("scope", "SEND_EVENT"),
        ])
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    // The old refresh token used again: the grant ends, every token with it.
    let (status, e) = f
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &old_refresh),
        ])
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(f.register_with(&new_access).await, 401);
    let (status, _) = f
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &new_refresh),
        ])
        .await;
    assert_eq!(status, 400);
    f.app.stop().await;
}

async fn without_grace_the_old_access_token_ends_at_refresh(backend: Backend) {
    let f = flow_with(backend, |s| s.oauth.refresh_grace = Duration::ZERO).await;
    let code = f.code("USER_POSTS_GET offline_access").await;
    let (_, first) = f.exchange(&code).await;
    let old_access = first["access_token"].as_str().expect("access").to_owned();
    let refresh = first["refresh_token"].as_str().expect("refresh").to_owned();
    let (status, second) = f
        .token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .await;
    assert_eq!(status, 200);
    assert_eq!(f.register_with(&old_access).await, 401);
    assert_eq!(
        f.register_with(second["access_token"].as_str().expect("access"))
            .await,
        200
    );
    f.app.stop().await;
}

async fn the_app_and_the_user_can_revoke(backend: Backend) {
    let f = flow_with(backend, |_| {}).await;
    // The app revokes an access token (RFC 7009).
    let code = f.code("USER_POSTS_GET").await;
    let access = f.exchange(&code).await.1["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    let r = f
        .app
        .client
        .post(f.app.url("/oauth2/revoke"))
        .form(&[
            ("token", access.as_str()),
            ("client_id", "oauth-app"),
            ("client_secret", f.secret.as_str()),
        ])
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 200);
    assert_eq!(f.register_with(&access).await, 401);
    let r = f
        .app
        .client
        .post(f.app.url("/oauth2/revoke"))
        .form(&[
            ("token", "not-a-token"),
            ("client_id", "oauth-app"),
            ("client_secret", f.secret.as_str()),
        ])
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 200, "unknown tokens are not an error");

    // The user revokes the app: it is told, and its subscription ends.
    let rx = Receiver::start().await;
    let r = f
        .app
        .admin(
            reqwest::Method::PATCH,
            "/admin/v1/apps/oauth-app",
            Some(json!({"webhook_url": rx.url})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let code = f
        .code("USER_POSTS_GET USER_ID NOTIFICATION_ACCESS_REVOCATION")
        .await;
    let access = f.exchange(&code).await.1["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    assert_eq!(f.register_with(&access).await, 200);
    let page = f
        .browser
        .get(f.app.url("/oauth2/apps"))
        .send()
        .await
        .expect("apps")
        .text()
        .await
        .expect("page");
    assert!(page.contains("OAuth App"));
    let csrf = hidden_fields(&page)
        .into_iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v)
        .expect("csrf");
    let r = f
        .browser
        .post(f.app.url("/oauth2/apps/oauth-app/revoke"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .expect("forged");
    assert_eq!(r.status(), 403);
    let r = f
        .browser
        .post(f.app.url("/oauth2/apps/oauth-app/revoke"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("page").contains("No app has access"));
    let got = rx.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].body["type"], "USER_ACCESS_REVOCATION");
    assert_eq!(
        got[0].body["user_access_revocation"]["user_id"]
            .as_str()
            .map(str::len),
        Some(44)
    );
    assert_eq!(f.register_with(&access).await, 401);
    assert!(f
        .app
        .subscriptions("oauth-app")
        .await
        .iter()
        .all(|s| s["active"] == false));
    f.app.stop().await;
}

crate::on_both_backends!(
    the_code_flow_with_pkce_issues_working_tokens_once,
    pkce_and_client_checks_refuse_what_they_must,
    authorization_errors_redirect_or_show_as_the_rfc_says,
    an_expired_code_is_refused,
    refresh_rotates_both_tokens_with_a_grace_for_the_old_access_token,
    without_grace_the_old_access_token_ends_at_refresh,
    the_app_and_the_user_can_revoke,
);

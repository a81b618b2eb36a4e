//! Webhook parsing on every contract vector, verification, and the axum extractor.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use kenar_sdk::webhook::{sign, Event, SigningSecret, Verifier, WebhookError};
use serde_json::Value;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/contract/vectors"
);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const KEY: &str = "kenar_id_test";

/// Every `webhook_*.json` vector of the contract, with its name.
fn webhook_vectors() -> Vec<(String, Vec<u8>)> {
    let mut paths: Vec<PathBuf> = fs::read_dir(Path::new(VECTORS))
        .expect("the vectors directory")
        .map(|e| e.expect("an entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("webhook_"))
        })
        .collect();
    paths.sort();
    assert!(paths.len() >= 12, "only {} webhook vectors", paths.len());
    paths
        .into_iter()
        .map(|p| {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .expect("a name")
                .to_owned();
            (name, fs::read(&p).expect("readable"))
        })
        .collect()
}

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs(),
    )
    .expect("fits")
}

fn signed_headers(body: &[u8], timestamp: i64) -> HeaderMap {
    let secret = SigningSecret::parse(SECRET).expect("valid");
    let mut headers = HeaderMap::new();
    headers.insert("authorization", KEY.parse().expect("a value"));
    headers.insert("webhook-id", "msg_42".parse().expect("a value"));
    headers.insert(
        "webhook-timestamp",
        timestamp.to_string().parse().expect("a value"),
    );
    headers.insert(
        "webhook-signature",
        sign(&secret, "msg_42", timestamp, body)
            .parse()
            .expect("a value"),
    );
    headers
}

fn verifier() -> Verifier {
    Verifier::new(KEY).signing_secret(SigningSecret::parse(SECRET).expect("valid"))
}

/// The variant an event is, by the contract's `type`.
fn variant_type(event: &Event) -> &'static str {
    match event {
        Event::NewMessage { .. } => "NEW_MESSAGE",
        Event::NewChatbotMessage { .. } => "NEW_CHATBOT_MESSAGE",
        Event::UserAccessRevocation { .. } => "USER_ACCESS_REVOCATION",
        Event::PostUpdate { .. } => "POST_UPDATE",
        Event::PaymentTransaction { .. } => "PAYMENT_TRANSACTION",
        _ => "unknown",
    }
}

#[test]
fn every_contract_vector_parses_into_its_variant_with_its_metadata() {
    for (name, body) in webhook_vectors() {
        let original: Value = serde_json::from_slice(&body).expect("JSON");
        let event = Event::parse(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(variant_type(&event), original["type"], "{name}");
        assert_eq!(event.type_name(), original["type"], "{name}");
        assert_eq!(
            event.metadata().cloned().map(Value::Object),
            original.get("metadata").cloned(),
            "{name}"
        );
        let back =
            serde_json::to_value(event.into_webhook().expect("a known type")).expect("serializes");
        assert_eq!(back, original, "{name} changed in the round trip");
    }
}

#[test]
fn every_contract_vector_verifies_when_signed_and_fails_when_tampered_with() {
    let verifier = verifier();
    for (name, body) in webhook_vectors() {
        let headers = signed_headers(&body, now());
        let event = verifier
            .verify(&headers, &body)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(event, Event::parse(&body).expect("parses"), "{name}");

        let mut tampered = body.clone();
        tampered.push(b' ');
        assert_eq!(
            verifier.verify(&headers, &tampered),
            Err(WebhookError::BadSignature),
            "{name}"
        );
    }
}

#[test]
fn the_payment_payload_is_also_read_from_transaction_and_camel_case() {
    let body = br#"{"type": "PAYMENT_TRANSACTION", "transaction": {"id": "p", "costRials": "100",
        "state": "TRANSACTION_STATE_PENDING", "type": "TRANSACTION_TYPE_REORDER"}}"#;
    let Event::PaymentTransaction { transaction, .. } = Event::parse(body).expect("parses") else {
        panic!("not a payment")
    };
    assert_eq!(transaction.cost_rials, 100);
    let camel = br#"{"type": "NEW_CHATBOT_MESSAGE", "newChatbotMessage": {"id": "m",
        "conversation": {"id": "c", "type": "BOT"}, "sender": {"type": "USER"}, "type": "TEXT",
        "sentAt": "1729429926140000", "text": "hi", "surprise": true}}"#;
    let Event::NewChatbotMessage { message, metadata } = Event::parse(camel).expect("parses")
    else {
        panic!("not a chatbot message")
    };
    assert_eq!(message.sent_at, 1_729_429_926_140_000);
    assert_eq!(message.sender.r#type, kenar_sdk::webhook::SenderType::Human);
    assert_eq!(metadata, None);
}

#[test]
fn a_stale_or_future_timestamp_is_refused() {
    let (_, body) = webhook_vectors().remove(0);
    for skew in [-301, 301] {
        let headers = signed_headers(&body, now() + skew);
        assert!(
            matches!(
                verifier().verify(&headers, &body),
                Err(WebhookError::TimestampOutOfTolerance(_))
            ),
            "skew {skew}"
        );
    }
}

#[cfg(feature = "axum")]
mod extractor {
    use super::*;
    use axum::routing::post;
    use axum::Router;
    use kenar_sdk::webhook::KenarWebhook;

    async fn receiver() -> String {
        async fn handle(KenarWebhook(event): KenarWebhook) -> String {
            event.type_name().to_owned()
        }
        let app = Router::new()
            .route("/webhook", post(handle))
            .with_state(verifier());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!(
            "http://{}/webhook",
            listener.local_addr().expect("an address")
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        url
    }

    async fn post_to(url: &str, headers: HeaderMap, body: Vec<u8>) -> (u16, String) {
        let response = reqwest::Client::new()
            .post(url)
            .headers(headers)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("an answer");
        let status = response.status().as_u16();
        (status, response.text().await.expect("a body"))
    }

    #[tokio::test]
    async fn an_authenticated_webhook_reaches_the_handler_parsed() {
        let url = receiver().await;
        for (name, body) in webhook_vectors() {
            let expected: Value = serde_json::from_slice(&body).expect("JSON");
            let (status, text) = post_to(&url, signed_headers(&body, now()), body).await;
            assert_eq!(status, 200, "{name}: {text}");
            assert_eq!(text, expected["type"], "{name}");
        }
    }

    #[tokio::test]
    async fn unauthenticated_requests_get_401() {
        let url = receiver().await;
        let (_, body) = webhook_vectors().remove(0);
        let good = signed_headers(&body, now());

        let mut no_key = good.clone();
        no_key.remove("authorization");
        let mut wrong_key = good.clone();
        wrong_key.insert("authorization", "kenar_id_other".parse().expect("a value"));
        let mut bad_signature = good.clone();
        bad_signature.insert(
            "webhook-signature",
            "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
                .parse()
                .expect("a value"),
        );
        let mut unsigned = good.clone();
        unsigned.remove("webhook-signature");
        let stale = signed_headers(&body, now() - 3600);

        for (case, headers) in [
            ("no key", no_key),
            ("wrong key", wrong_key),
            ("bad signature", bad_signature),
            ("unsigned", unsigned),
            ("stale", stale),
        ] {
            let (status, text) = post_to(&url, headers, body.clone()).await;
            assert_eq!(status, 401, "{case}: {text}");
        }
    }

    #[tokio::test]
    async fn an_authenticated_request_with_a_bad_body_gets_400() {
        let url = receiver().await;
        let body = br#"{"type": "NEW_MESSAGE", "new_message": {"id": 1}}"#.to_vec();
        let (status, text) = post_to(&url, signed_headers(&body, now()), body).await;
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("new_message"), "{text}");
    }

    #[tokio::test]
    async fn a_webhook_of_a_type_unknown_to_the_sdk_is_accepted() {
        let url = receiver().await;
        let body = br#"{"type": "SOMETHING_NEW", "something_new": {}}"#.to_vec();
        let (status, text) = post_to(&url, signed_headers(&body, now()), body).await;
        assert_eq!((status, text.as_str()), (200, "SOMETHING_NEW"));
    }
}

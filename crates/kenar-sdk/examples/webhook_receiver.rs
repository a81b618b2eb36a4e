//! Receives Kenar's webhooks and prints each event on a line of its own.
//!
//! ```sh
//! KENAR_IDENTIFICATION_KEY=... [KENAR_SIGNING_SECRET=whsec_...] [KENAR_LISTEN=127.0.0.1:9000] \
//!   cargo run -p kenar-sdk --features axum --example webhook_receiver
//! ```
//!
//! Point the app's webhook URL at `http://<KENAR_LISTEN>/webhook` (for a local kenar-events:
//! `kenar-events dev --webhook-url http://127.0.0.1:9000/webhook`). Requests without the
//! identification key, or, when `KENAR_SIGNING_SECRET` is set, without a valid recent
//! signature, get `401`. The first line printed is `listening on <url>`.

use std::process::ExitCode;

use axum::routing::post;
use axum::Router;
use kenar_sdk::webhook::{Event, KenarWebhook, SigningSecret, Verifier};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let key =
        std::env::var("KENAR_IDENTIFICATION_KEY").map_err(|_| "set KENAR_IDENTIFICATION_KEY")?;
    let mut verifier = Verifier::new(key);
    if let Ok(secret) = std::env::var("KENAR_SIGNING_SECRET") {
        verifier = verifier.signing_secret(SigningSecret::parse(&secret)?);
    }
    let listen = std::env::var("KENAR_LISTEN").unwrap_or_else(|_| "127.0.0.1:9000".into());

    let app = Router::new()
        .route("/webhook", post(receive))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on http://{}/webhook", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// Runs only for authenticated webhooks; answering (with 200) acknowledges the delivery.
async fn receive(KenarWebhook(event): KenarWebhook) {
    let metadata = event
        .metadata()
        .map(|m| serde_json::Value::Object(m.clone()).to_string())
        .unwrap_or_else(|| "none".into());
    match &event {
        Event::NewMessage { message, .. } | Event::NewChatbotMessage { message, .. } => {
            println!(
                "{} id={} conversation={} body={:?} metadata={metadata}",
                event.type_name(),
                message.id,
                message.conversation.id,
                message.body
            )
        }
        Event::PostUpdate { update, .. } => println!(
            "{} {} post={} metadata={metadata}",
            event.type_name(),
            update.r#type,
            update.post.token
        ),
        Event::PaymentTransaction { transaction, .. } => println!(
            "{} id={} state={} cost_rials={} metadata={metadata}",
            event.type_name(),
            transaction.id,
            transaction.state,
            transaction.cost_rials
        ),
        Event::UserAccessRevocation { revocation, .. } => println!(
            "{} user={} metadata={metadata}",
            event.type_name(),
            revocation.user_id
        ),
        other => println!(
            "{} (unknown to this SDK) metadata={metadata}",
            other.type_name()
        ),
    }
}

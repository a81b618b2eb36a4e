//! Subscribes the app to the chat messages of one post, so Kenar sends them to its webhook.
//!
//! ```sh
//! KENAR_BASE_URL=http://127.0.0.1:8080 KENAR_API_KEY=... KENAR_ACCESS_TOKEN=... \
//!   KENAR_POST_TOKEN=gZd7omnS cargo run -p kenar-sdk --example subscribe_post_messages
//! ```
//!
//! `KENAR_BASE_URL` defaults to Kenar's production API. The access token needs the scope
//! `CHAT_POST_CONVERSATIONS_READ.<post>` (or `CHAT_SUPPLIER_ALL_CONVERSATIONS_READ`).

use std::process::ExitCode;

use kenar_sdk::{Client, RegisterSubscription, DEFAULT_BASE_URL};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::builder(env("KENAR_API_KEY")?)
        .base_url(std::env::var("KENAR_BASE_URL").unwrap_or_else(|_| DEFAULT_BASE_URL.into()))
        .access_token(env("KENAR_ACCESS_TOKEN")?)
        .build()?;
    let post = env("KENAR_POST_TOKEN")?;

    client
        .events()
        .register_subscription(
            RegisterSubscription::new_messages_on_post(&post)
                // Echoed back in every webhook this subscription causes.
                .metadata(serde_json::json!({"source": "subscribe_post_messages example"})),
        )
        .await?;
    println!("subscribed to the messages of post {post}");
    Ok(())
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

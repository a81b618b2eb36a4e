//! Sends an event with buttons to a post's feed (or a user's, with `KENAR_USER_ID`).
//!
//! ```sh
//! KENAR_BASE_URL=http://127.0.0.1:8080 KENAR_API_KEY=... KENAR_ACCESS_TOKEN=... \
//!   KENAR_POST_TOKEN=gZd7omnS cargo run -p kenar-sdk --example send_event_with_buttons
//! ```
//!
//! `KENAR_BASE_URL` defaults to Kenar's production API. The access token needs the scope
//! `SEND_EVENT`, and the API key the permission `EVENTS_SEND`.

use std::process::ExitCode;

use kenar_sdk::{Client, SendEvent, DEFAULT_BASE_URL};

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

    let event = match std::env::var("KENAR_USER_ID") {
        Ok(user) => SendEvent::to_user(user, "گزارش هفتگی شما آماده است"),
        Err(_) => SendEvent::to_post(&post, "گزارش بازدید آگهی شما آماده است"),
    };
    let event = event
        .link_button("مشاهده گزارش", "https://example.com/reports/1")
        .post_manage_page_button("مدیریت آگهی", &post)
        .dynamic_action_button("تمدید اشتراک", serde_json::json!({"plan": "gold"}));

    client.events().send(event).await?;
    println!("sent an event with 3 buttons");
    Ok(())
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

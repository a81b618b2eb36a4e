//! `kenar subscribe` and `kenar send`: the public Events API as an app calls it (API key and
//! a user's access token), through the SDK.

use clap::{Args, ValueEnum};
use kenar_sdk::{Client, EventType, RegisterSubscription, SendEvent};
use serde_json::{json, Map, Value};

use super::Ctx;
use crate::error::{CliError, CliResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SubscriptionKind {
    /// NEW_MESSAGE_ON_POST: chat messages on the user's post(s).
    #[value(alias = "new_message_on_post", alias = "new-messages")]
    NewMessageOnPost,
    /// POST_UPDATE: changes of the user's post(s).
    #[value(alias = "post_update", alias = "post-updates")]
    PostUpdate,
}

#[derive(Debug, Args)]
pub struct SubscribeArgs {
    /// What to listen to.
    #[arg(value_enum, ignore_case = true)]
    pub event: SubscriptionKind,
    /// Listen on this post only [default: all of the user's posts]
    #[arg(long, value_name = "TOKEN")]
    pub post: Option<String>,
    /// App data echoed in every webhook (a JSON object).
    #[arg(long, value_name = "JSON")]
    pub metadata: Option<String>,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The text of the event.
    pub message: String,
    /// Send to this post's feed [default: the post setting, when --user is not given]
    #[arg(long, value_name = "TOKEN", conflicts_with = "to_user")]
    pub post: Option<String>,
    /// Send to this user's feed: the user's id as the app knows it (`tokens mint` prints it).
    #[arg(long = "user", id = "to_user", value_name = "APP_USER_ID")]
    pub user: Option<String>,
    /// A button opening a link: "TITLE=URL" (repeatable).
    #[arg(long = "link", value_name = "TITLE=URL")]
    pub links: Vec<String>,
    /// A button opening a link the app builds: "TITLE={json data}" (repeatable).
    #[arg(long = "server-link", value_name = "TITLE=JSON")]
    pub server_links: Vec<String>,
    /// A button resolved by the app's dynamic-action URL: "TITLE={json data}" (repeatable).
    #[arg(long = "dynamic-action", value_name = "TITLE=JSON")]
    pub dynamic_actions: Vec<String>,
    /// A button opening a post: "TITLE=POST_TOKEN" (repeatable).
    #[arg(long = "post-page", value_name = "TITLE=TOKEN")]
    pub post_pages: Vec<String>,
    /// A button opening a post's management page: "TITLE=POST_TOKEN" (repeatable).
    #[arg(long = "manage-page", value_name = "TITLE=TOKEN")]
    pub manage_pages: Vec<String>,
    /// Send a JSON body even without buttons (instead of query parameters).
    #[arg(long)]
    pub body_form: bool,
}

fn client(ctx: &Ctx) -> CliResult<Client> {
    Ok(Client::builder(ctx.settings.api_key()?.expose())
        .base_url(ctx.settings.base_url())
        .access_token(ctx.settings.access_token()?.expose())
        .user_agent(crate::http::USER_AGENT)
        .build()?)
}

pub async fn subscribe(ctx: &Ctx, a: SubscribeArgs) -> CliResult<()> {
    let client = client(ctx)?;
    let mut request = RegisterSubscription::new(match a.event {
        SubscriptionKind::NewMessageOnPost => EventType::NewMessageOnPost,
        SubscriptionKind::PostUpdate => EventType::PostUpdate,
    });
    if let Some(post) = &a.post {
        request = request.post(post);
    }
    if let Some(m) = &a.metadata {
        request = request.metadata(json_object("--metadata", m)?);
    }
    client.events().register_subscription(request).await?;
    if ctx.out.json {
        ctx.out.json_value(&json!({}));
    } else {
        let event = match a.event {
            SubscriptionKind::NewMessageOnPost => "NEW_MESSAGE_ON_POST",
            SubscriptionKind::PostUpdate => "POST_UPDATE",
        };
        let on = match &a.post {
            Some(p) => format!("post {p}"),
            None => "all of the user's posts".to_owned(),
        };
        ctx.out.line(&format!("Subscribed to {event} on {on}."));
    }
    Ok(())
}

pub async fn send(ctx: &Ctx, a: SendArgs) -> CliResult<()> {
    let client = client(ctx)?;
    let (mut event, target) = match (&a.user, &a.post) {
        (Some(user), _) => (SendEvent::to_user(user, &a.message), format!("user {user}")),
        (None, Some(post)) => (SendEvent::to_post(post, &a.message), format!("post {post}")),
        (None, None) => {
            let post = ctx.settings.post().map_err(|_| {
                CliError::usage("send: say where to, with --post TOKEN or --user APP_USER_ID")
            })?;
            (SendEvent::to_post(post, &a.message), format!("post {post}"))
        }
    };
    for b in &a.links {
        let (title, url) = split_button("--link", b)?;
        event = event.link_button(title, url);
    }
    for b in &a.server_links {
        let (title, data) = split_button("--server-link", b)?;
        event = event.server_link_button(title, json_object("--server-link", data)?);
    }
    for b in &a.dynamic_actions {
        let (title, data) = split_button("--dynamic-action", b)?;
        event = event.dynamic_action_button(title, json_object("--dynamic-action", data)?);
    }
    for b in &a.post_pages {
        let (title, post) = split_button("--post-page", b)?;
        event = event.post_page_button(title, post);
    }
    for b in &a.manage_pages {
        let (title, post) = split_button("--manage-page", b)?;
        event = event.post_manage_page_button(title, post);
    }
    if a.body_form {
        event = event.body_form();
    }
    client.events().send(event).await?;
    if ctx.out.json {
        ctx.out.json_value(&json!({}));
    } else {
        ctx.out.line(&format!("Sent to the feed of {target}."));
    }
    Ok(())
}

/// `TITLE=VALUE`, split at the first `=` (titles rarely hold one; values often do).
fn split_button<'a>(flag: &str, given: &'a str) -> CliResult<(&'a str, &'a str)> {
    given
        .split_once('=')
        .filter(|(t, v)| !t.trim().is_empty() && !v.trim().is_empty())
        .map(|(t, v)| (t.trim(), v.trim()))
        .ok_or_else(|| CliError::usage(format!("{flag} {given:?}: expected TITLE=VALUE")))
}

/// A JSON object given on the command line.
pub fn json_object(flag: &str, given: &str) -> CliResult<Map<String, Value>> {
    match serde_json::from_str::<Value>(given) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(CliError::usage(format!("{flag}: expected a JSON object"))),
        Err(e) => Err(CliError::usage(format!("{flag}: not JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_split_at_the_first_equals_sign() {
        assert_eq!(
            split_button("--link", "Open it=https://x.example/?a=1").expect("valid"),
            ("Open it", "https://x.example/?a=1")
        );
        assert!(split_button("--link", "no value").is_err());
        assert!(split_button("--link", "=https://x").is_err());
    }

    #[test]
    fn metadata_must_be_an_object() {
        assert!(json_object("--metadata", r#"{"a": 1}"#).is_ok());
        let err = json_object("--metadata", "[1]").expect_err("array");
        assert!(err.to_string().contains("JSON object"));
        assert!(json_object("--metadata", "{").is_err());
    }
}

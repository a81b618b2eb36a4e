//! `kenar apps ...`: create, list, show and change apps; their subscriptions.

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::Ctx;
use crate::error::CliResult;
use crate::output::{cell, styled, text, Output, Style, Table};

#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// List apps.
    List(ListArgs),
    /// Create an app.
    Create(CreateArgs),
    /// Show an app's settings (its identification key and signing secret included).
    Show(SlugArg),
    /// Change an app's settings; what is not given stays.
    Update(UpdateArgs),
    /// List the subscriptions registered for an app.
    Subscriptions(SlugArg),
    /// Resume delivering to an endpoint that was disabled for failing too long.
    EnableWebhook(SlugArg),
    /// Issue a new OAuth client secret (shown once; the previous one stops working).
    ClientSecret(SlugArg),
}

#[derive(Debug, Args)]
pub struct SlugArg {
    /// The app's slug [default: the --app setting]
    pub slug: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// At most this many apps (1 to 1000).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Start after this app id (the `next_after` of the previous page).
    #[arg(long)]
    pub after: Option<i64>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Lower-case letters, digits and `-`; also the app's OAuth client_id.
    pub slug: String,
    /// A display name [default: the slug]
    #[arg(long)]
    pub name: Option<String>,
    /// Where webhooks are sent.
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// The value of every webhook's Authorization header [default: generated]
    #[arg(long)]
    pub identification_key: Option<String>,
    /// Where get_dynamic_action buttons are resolved.
    #[arg(long, value_name = "URL")]
    pub dynamic_action_url: Option<String>,
    /// A Standard Webhooks secret (whsec_ + base64) to sign webhooks with.
    #[arg(long, conflicts_with = "generate_signing_secret")]
    pub signing_secret: Option<String>,
    /// Generate a signing secret.
    #[arg(long)]
    pub generate_signing_secret: bool,
    /// TEST (default) or PRODUCTION.
    #[arg(long)]
    pub kind: Option<String>,
    /// A scope name a production app may ask for (repeatable).
    #[arg(long = "granted-scope", value_name = "SCOPE")]
    pub granted_scopes: Vec<String>,
    /// An OAuth redirect URI (repeatable).
    #[arg(long = "redirect-uri", value_name = "URL")]
    pub redirect_uris: Vec<String>,
    /// Public API calls per minute.
    #[arg(long)]
    pub rate_limit_per_minute: Option<i64>,
    /// Public API calls per UTC day.
    #[arg(long)]
    pub daily_quota: Option<i64>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The app's slug [default: the --app setting]
    pub slug: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    /// Where webhooks are sent.
    #[arg(long, value_name = "URL", conflicts_with = "no_webhook_url")]
    pub webhook_url: Option<String>,
    /// Remove the webhook URL.
    #[arg(long)]
    pub no_webhook_url: bool,
    #[arg(long)]
    pub identification_key: Option<String>,
    #[arg(long, value_name = "URL", conflicts_with = "no_dynamic_action_url")]
    pub dynamic_action_url: Option<String>,
    /// Remove the dynamic-action URL.
    #[arg(long)]
    pub no_dynamic_action_url: bool,
    /// A Standard Webhooks secret (whsec_ + base64).
    #[arg(long, conflicts_with_all = ["generate_signing_secret", "no_signing_secret"])]
    pub signing_secret: Option<String>,
    /// Generate a new signing secret.
    #[arg(long, conflicts_with = "no_signing_secret")]
    pub generate_signing_secret: bool,
    /// Stop signing webhooks.
    #[arg(long)]
    pub no_signing_secret: bool,
    /// TEST or PRODUCTION.
    #[arg(long)]
    pub kind: Option<String>,
    /// Replace the granted scope names (repeatable).
    #[arg(long = "granted-scope", value_name = "SCOPE")]
    pub granted_scopes: Option<Vec<String>>,
    /// Replace the OAuth redirect URIs (repeatable).
    #[arg(long = "redirect-uri", value_name = "URL")]
    pub redirect_uris: Option<Vec<String>>,
    #[arg(long)]
    pub rate_limit_per_minute: Option<i64>,
    #[arg(long)]
    pub daily_quota: Option<i64>,
}

pub async fn run(ctx: &Ctx, command: AppsCommand) -> CliResult<()> {
    let admin = ctx.admin()?;
    match command {
        AppsCommand::List(a) => {
            let mut query = Vec::new();
            if let Some(l) = a.limit {
                query.push(("limit", l.to_string()));
            }
            if let Some(after) = a.after {
                query.push(("after", after.to_string()));
            }
            let answer = admin.get(&["admin", "v1", "apps"], &query).await?;
            ctx.show(&answer, print_list);
        }
        AppsCommand::Create(a) => {
            let body = create_body(a);
            let answer = admin.post(&["admin", "v1", "apps"], &body).await?;
            ctx.show(&answer, |out, app| {
                out.line(&format!("Created app {}.", text(app, "slug")));
                print_app(out, app);
            });
        }
        AppsCommand::Show(a) => {
            let slug = ctx.settings.app(a.slug.as_deref())?;
            let answer = admin.get(&["admin", "v1", "apps", slug], &[]).await?;
            ctx.show(&answer, print_app);
        }
        AppsCommand::Update(a) => {
            let slug = ctx.settings.app(a.slug.as_deref())?.to_owned();
            let body = update_body(a);
            let answer = admin.patch(&["admin", "v1", "apps", &slug], &body).await?;
            ctx.show(&answer, |out, app| {
                out.line(&format!("Updated app {}.", text(app, "slug")));
                print_app(out, app);
            });
        }
        AppsCommand::Subscriptions(a) => {
            let slug = ctx.settings.app(a.slug.as_deref())?;
            let answer = admin
                .get(&["admin", "v1", "apps", slug, "subscriptions"], &[])
                .await?;
            ctx.show(&answer, print_subscriptions);
        }
        AppsCommand::EnableWebhook(a) => {
            let slug = ctx.settings.app(a.slug.as_deref())?;
            let answer = admin
                .post(
                    &["admin", "v1", "apps", slug, "webhook", "enable"],
                    &json!({}),
                )
                .await?;
            ctx.show(&answer, |out, app| {
                out.line(&format!(
                    "Webhooks of {} are enabled; pending deliveries resume.",
                    text(app, "slug")
                ))
            });
        }
        AppsCommand::ClientSecret(a) => {
            let slug = ctx.settings.app(a.slug.as_deref())?;
            let answer = admin
                .post(&["admin", "v1", "apps", slug, "client-secret"], &json!({}))
                .await?;
            ctx.show(&answer, |out, v| {
                out.fields(&[
                    ("client_id", text(v, "client_id")),
                    ("client_secret", text(v, "client_secret")),
                ]);
                out.note("The client secret is shown this once.");
            });
        }
    }
    Ok(())
}

fn create_body(a: CreateArgs) -> Value {
    let mut body = Map::new();
    body.insert("slug".into(), json!(a.slug));
    let optional = [
        ("name", a.name),
        ("webhook_url", a.webhook_url),
        ("identification_key", a.identification_key),
        ("dynamic_action_url", a.dynamic_action_url),
        ("signing_secret", a.signing_secret),
        ("kind", a.kind.map(|k| k.to_ascii_uppercase())),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            body.insert(k.into(), json!(v));
        }
    }
    if a.generate_signing_secret {
        body.insert("generate_signing_secret".into(), json!(true));
    }
    if !a.granted_scopes.is_empty() {
        body.insert("granted_scopes".into(), json!(a.granted_scopes));
    }
    if !a.redirect_uris.is_empty() {
        body.insert("redirect_uris".into(), json!(a.redirect_uris));
    }
    if let Some(n) = a.rate_limit_per_minute {
        body.insert("rate_limit_per_minute".into(), json!(n));
    }
    if let Some(n) = a.daily_quota {
        body.insert("daily_quota".into(), json!(n));
    }
    Value::Object(body)
}

/// A PATCH body: absent fields stay, `null` clears.
fn update_body(a: UpdateArgs) -> Value {
    let mut body = Map::new();
    let mut set = |k: &str, v: Value| {
        body.insert(k.to_owned(), v);
    };
    if let Some(v) = a.name {
        set("name", json!(v));
    }
    match (a.webhook_url, a.no_webhook_url) {
        (Some(v), _) => set("webhook_url", json!(v)),
        (None, true) => set("webhook_url", Value::Null),
        (None, false) => {}
    }
    if let Some(v) = a.identification_key {
        set("identification_key", json!(v));
    }
    match (a.dynamic_action_url, a.no_dynamic_action_url) {
        (Some(v), _) => set("dynamic_action_url", json!(v)),
        (None, true) => set("dynamic_action_url", Value::Null),
        (None, false) => {}
    }
    match (a.signing_secret, a.no_signing_secret) {
        (Some(v), _) => set("signing_secret", json!(v)),
        (None, true) => set("signing_secret", Value::Null),
        (None, false) => {}
    }
    if a.generate_signing_secret {
        set("generate_signing_secret", json!(true));
    }
    if let Some(v) = a.kind {
        set("kind", json!(v.to_ascii_uppercase()));
    }
    if let Some(v) = a.granted_scopes {
        set("granted_scopes", json!(v));
    }
    if let Some(v) = a.redirect_uris {
        set("redirect_uris", json!(v));
    }
    if let Some(v) = a.rate_limit_per_minute {
        set("rate_limit_per_minute", json!(v));
    }
    if let Some(v) = a.daily_quota {
        set("daily_quota", json!(v));
    }
    Value::Object(body)
}

fn print_list(out: &Output, v: &Value) {
    let mut table = Table::new(&["SLUG", "NAME", "KIND", "WEBHOOK URL", "CREATED"]);
    for app in v["apps"].as_array().into_iter().flatten() {
        let webhook = if app["webhook_disabled_at"].is_string() {
            styled(
                format!("{} (disabled)", text(app, "webhook_url")),
                Some(Style::Red),
            )
        } else {
            cell(text(app, "webhook_url"))
        };
        table.row(vec![
            cell(text(app, "slug")),
            cell(text(app, "name")),
            cell(text(app, "kind")),
            webhook,
            cell(text(app, "created_at")),
        ]);
    }
    if table.is_empty() {
        out.line("No apps.");
    } else {
        table.print(out);
    }
    if let Some(next) = v["next_after"].as_i64() {
        out.note(&format!("More apps: --after {next}"));
    }
}

pub fn print_app(out: &Output, app: &Value) {
    let disabled = app["webhook_disabled_at"].as_str();
    out.fields(&[
        ("slug", text(app, "slug")),
        ("name", text(app, "name")),
        ("kind", text(app, "kind")),
        ("webhook url", text(app, "webhook_url")),
        ("identification key", text(app, "identification_key")),
        ("signing secret", text(app, "signing_secret")),
        ("dynamic action url", text(app, "dynamic_action_url")),
        ("granted scopes", text(app, "granted_scopes")),
        ("redirect uris", text(app, "redirect_uris")),
        ("client secret", {
            let has = app["has_client_secret"].as_bool().unwrap_or(false);
            if has { "issued" } else { "-" }.to_owned()
        }),
        ("rate limit/minute", text(app, "rate_limit_per_minute")),
        ("daily quota", text(app, "daily_quota")),
        ("failing since", text(app, "webhook_failing_since")),
        (
            "disabled at",
            match disabled {
                Some(d) => out.paint(Style::Red, d),
                None => "-".to_owned(),
            },
        ),
        ("created", text(app, "created_at")),
        ("updated", text(app, "updated_at")),
    ]);
}

fn print_subscriptions(out: &Output, v: &Value) {
    let mut table = Table::new(&[
        "ID", "USER", "APP USER", "EVENT", "POST", "ACTIVE", "EXPIRES", "METADATA",
    ]);
    for s in v["subscriptions"].as_array().into_iter().flatten() {
        let active = s["active"].as_bool().unwrap_or(false);
        table.row(vec![
            cell(text(s, "id")),
            cell(text(s, "user_id")),
            cell(text(s, "app_user_id")),
            cell(text(s, "event_type")),
            cell(text(s, "event_resource_id")),
            styled(
                if active { "yes" } else { "no" },
                Some(if active { Style::Green } else { Style::Dim }),
            ),
            cell(text(s, "expires_at")),
            cell(text(s, "metadata")),
        ]);
    }
    if table.is_empty() {
        out.line("No subscriptions.");
    } else {
        table.print(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_sends_only_what_was_given_and_null_to_clear() {
        let body = update_body(UpdateArgs {
            slug: None,
            name: Some("N".into()),
            webhook_url: None,
            no_webhook_url: true,
            identification_key: None,
            dynamic_action_url: None,
            no_dynamic_action_url: false,
            signing_secret: None,
            generate_signing_secret: true,
            no_signing_secret: false,
            kind: Some("production".into()),
            granted_scopes: None,
            redirect_uris: None,
            rate_limit_per_minute: None,
            daily_quota: None,
        });
        assert_eq!(
            body,
            json!({"name": "N", "webhook_url": null, "generate_signing_secret": true,
                   "kind": "PRODUCTION"})
        );
    }
}

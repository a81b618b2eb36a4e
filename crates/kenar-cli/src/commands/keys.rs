//! `kenar keys ...`: an app's API keys.

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::{enum_value, Ctx};
use crate::error::CliResult;
use crate::output::{cell, styled, text, Output, Style, Table};

/// Every permission a key can hold.
pub const ALL_PERMISSIONS: [&str; 2] = ["EVENTS_REGISTER_SUBSCRIPTION", "EVENTS_SEND"];

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Issue an API key (shown once; only its hash is kept).
    Create(CreateArgs),
    /// List an app's keys (never their secrets).
    List(AppArg),
    /// Revoke a key: calls with it fail from now on.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct AppArg {
    /// The app's slug [default: the --app setting]
    #[arg(value_name = "APP")]
    pub slug: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The app's slug [default: the --app setting]
    #[arg(value_name = "APP")]
    pub slug: Option<String>,
    /// A label for the key.
    #[arg(long, default_value = "")]
    pub name: String,
    /// A permission (repeatable): EVENTS_REGISTER_SUBSCRIPTION, EVENTS_SEND [default: both]
    #[arg(long = "permission", value_name = "PERMISSION")]
    pub permissions: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The key's id (from `kenar keys list`).
    pub id: i64,
    /// The app's slug [default: the --app setting]
    #[arg(value_name = "APP")]
    pub slug: Option<String>,
}

pub async fn run(ctx: &Ctx, command: KeysCommand) -> CliResult<()> {
    let admin = ctx.admin()?;
    match command {
        KeysCommand::Create(a) => {
            let slug = ctx.settings.app(a.slug.as_deref())?;
            let permissions: Vec<String> = if a.permissions.is_empty() {
                ALL_PERMISSIONS.iter().map(|p| p.to_string()).collect()
            } else {
                a.permissions.iter().map(|p| enum_value(p)).collect()
            };
            let body = json!({"name": a.name, "permissions": permissions});
            let answer = admin
                .post(&["admin", "v1", "apps", slug, "keys"], &body)
                .await?;
            ctx.show(&answer, |out, k| {
                out.fields(&[
                    ("key", out.paint(Style::Bold, &text(k, "key"))),
                    ("id", text(k, "id")),
                    ("name", text(k, "name")),
                    ("permissions", text(k, "permissions")),
                    ("created", text(k, "created_at")),
                ]);
                out.note("The key is shown this once; only its hash is kept.");
            });
        }
        KeysCommand::List(a) => {
            let slug = ctx.settings.app(a.slug.as_deref())?;
            let answer = admin
                .get(&["admin", "v1", "apps", slug, "keys"], &[])
                .await?;
            ctx.show(&answer, print_list);
        }
        KeysCommand::Revoke(a) => {
            let slug = ctx.settings.app(a.slug.as_deref())?;
            let id = a.id.to_string();
            let answer = admin
                .delete(&["admin", "v1", "apps", slug, "keys", &id])
                .await?;
            ctx.show(&answer, |out, k| {
                out.line(&format!(
                    "Revoked key {} ({}) of {slug} at {}.",
                    text(k, "id"),
                    text(k, "prefix"),
                    text(k, "revoked_at")
                ))
            });
        }
    }
    Ok(())
}

fn print_list(out: &Output, v: &Value) {
    let mut table = Table::new(&["ID", "NAME", "PREFIX", "PERMISSIONS", "CREATED", "REVOKED"]);
    for k in v["keys"].as_array().into_iter().flatten() {
        let revoked = k["revoked_at"].is_string();
        table.row(vec![
            cell(text(k, "id")),
            cell(text(k, "name")),
            cell(text(k, "prefix")),
            cell(text(k, "permissions")),
            cell(text(k, "created_at")),
            styled(text(k, "revoked_at"), revoked.then_some(Style::Red)),
        ]);
    }
    if table.is_empty() {
        out.line("No keys.");
    } else {
        table.print(out);
    }
}

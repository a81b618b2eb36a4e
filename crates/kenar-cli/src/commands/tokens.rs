//! `kenar tokens ...`: access tokens minted as if a user had granted them, and revocation.

use clap::{Args, Subcommand};
use serde_json::{json, Map};

use super::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::{text, Style};
use crate::time::seconds;

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Mint an access token of an app for a user, with scopes and a lifetime.
    Mint(MintArgs),
    /// Revoke an access token (an unknown one is not an error, as in RFC 7009).
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct MintArgs {
    /// The app's slug [default: the --app setting]
    #[arg(value_name = "APP")]
    pub slug: Option<String>,
    /// The platform's id of the user granting access [default: the user setting]
    #[arg(long, env = "KENAR_USER", value_name = "ID")]
    pub user: Option<String>,
    // The help as an attribute, not a doc comment: rustdoc reads `<post>` as an HTML tag.
    #[arg(
        long = "scope",
        value_name = "SCOPE",
        required = true,
        help = "A scope (repeatable): USER_POSTS_GET, SEND_EVENT, CHAT_POST_CONVERSATIONS_READ.<post>, ..."
    )]
    pub scopes: Vec<String>,
    /// Lifetime: seconds or a duration (1h, 30days); at most a year [default: 1h]
    #[arg(long, value_name = "DURATION")]
    pub expires_in: Option<String>,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The access token.
    pub token: String,
}

pub async fn run(ctx: &Ctx, command: TokensCommand) -> CliResult<()> {
    let admin = ctx.admin()?;
    match command {
        TokensCommand::Mint(a) => {
            let slug = ctx.settings.app(a.slug.as_deref())?;
            let user = ctx.settings.user()?;
            let mut body = Map::new();
            body.insert("user_id".into(), json!(user));
            body.insert("scopes".into(), json!(split_scopes(&a.scopes)?));
            if let Some(e) = &a.expires_in {
                body.insert("expires_in".into(), json!(seconds("--expires-in", e)?));
            }
            let answer = admin
                .post(&["admin", "v1", "apps", slug, "tokens"], &body.into())
                .await?;
            ctx.show(&answer, |out, t| {
                out.fields(&[
                    (
                        "access token",
                        out.paint(Style::Bold, &text(t, "access_token")),
                    ),
                    ("expires in", format!("{} s", text(t, "expires_in"))),
                    ("scope", text(t, "scope")),
                    ("app user id", text(t, "user_id")),
                    ("grant", text(t, "grant_id")),
                ]);
            });
        }
        TokensCommand::Revoke(a) => {
            let answer = admin
                .post(
                    &["admin", "v1", "tokens", "revoke"],
                    &json!({"token": a.token}),
                )
                .await?;
            ctx.show(&answer, |out, _| {
                out.line("Revoked (if the token existed and was live).")
            });
        }
    }
    Ok(())
}

/// Scopes as given, each flag holding one or several separated by spaces or commas.
fn split_scopes(given: &[String]) -> CliResult<Vec<String>> {
    let scopes: Vec<String> = given
        .iter()
        .flat_map(|s| s.split([' ', ',']))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return Err(CliError::usage("--scope: give at least one scope"));
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn scopes_may_be_given_together() {
        let got = super::split_scopes(&["USER_POSTS_GET SEND_EVENT".into(), "USER_ID".into()])
            .expect("valid");
        assert_eq!(got, ["USER_POSTS_GET", "SEND_EVENT", "USER_ID"]);
    }
}

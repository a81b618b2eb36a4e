//! `kenar users ...` and `kenar posts ...`: the embedded identity store.

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::Ctx;
use crate::error::CliResult;
use crate::output::{text, Output};

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Register a user.
    Create(CreateUserArgs),
    /// Show a user.
    Show {
        /// The platform's id of the user.
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    /// The platform's id of the user [default: generated, u-...]
    pub id: Option<String>,
    #[arg(long, default_value = "")]
    pub display_name: String,
}

#[derive(Debug, Subcommand)]
pub enum PostsCommand {
    /// Register a post with its owner.
    Create(CreatePostArgs),
    /// Show a post.
    Show {
        /// The post token.
        token: String,
    },
    /// Give a post to another owner.
    SetOwner {
        /// The post token.
        token: String,
        /// The platform's id of the new owner.
        owner: String,
    },
}

#[derive(Debug, Args)]
pub struct CreatePostArgs {
    /// The post token [default: generated, 8 characters]
    pub token: Option<String>,
    /// The platform's id of the owner.
    #[arg(long)]
    pub owner: String,
}

pub async fn run_users(ctx: &Ctx, command: UsersCommand) -> CliResult<()> {
    let admin = ctx.admin()?;
    let answer = match command {
        UsersCommand::Create(a) => {
            let mut body = Map::new();
            if let Some(id) = a.id {
                body.insert("id".into(), json!(id));
            }
            body.insert("display_name".into(), json!(a.display_name));
            admin.post(&["admin", "v1", "users"], &body.into()).await?
        }
        UsersCommand::Show { id } => admin.get(&["admin", "v1", "users", &id], &[]).await?,
    };
    ctx.show(&answer, print_user);
    Ok(())
}

pub async fn run_posts(ctx: &Ctx, command: PostsCommand) -> CliResult<()> {
    let admin = ctx.admin()?;
    let answer = match command {
        PostsCommand::Create(a) => {
            let mut body = Map::new();
            if let Some(t) = a.token {
                body.insert("token".into(), json!(t));
            }
            body.insert("owner_id".into(), json!(a.owner));
            admin.post(&["admin", "v1", "posts"], &body.into()).await?
        }
        PostsCommand::Show { token } => admin.get(&["admin", "v1", "posts", &token], &[]).await?,
        PostsCommand::SetOwner { token, owner } => {
            admin
                .patch(
                    &["admin", "v1", "posts", &token],
                    &json!({"owner_id": owner}),
                )
                .await?
        }
    };
    ctx.show(&answer, print_post);
    Ok(())
}

fn print_user(out: &Output, u: &Value) {
    out.fields(&[
        ("id", text(u, "id")),
        ("display name", text(u, "display_name")),
        ("created", text(u, "created_at")),
    ]);
}

fn print_post(out: &Output, p: &Value) {
    out.fields(&[
        ("token", text(p, "token")),
        ("owner", text(p, "owner_id")),
        ("created", text(p, "created_at")),
        ("updated", text(p, "updated_at")),
    ]);
}

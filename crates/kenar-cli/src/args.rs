//! The command line: global settings and the command tree.

use clap::{Args, Parser, Subcommand};

use crate::commands::apps::AppsCommand;
use crate::commands::config::ConfigCommand;
use crate::commands::deliveries::DeliveriesCommand;
use crate::commands::identity::{PostsCommand, UsersCommand};
use crate::commands::keys::KeysCommand;
use crate::commands::listen::ListenArgs;
use crate::commands::public::{SendArgs, SubscribeArgs};
use crate::commands::tokens::TokensCommand;
use crate::commands::trigger::TriggerKind;
use crate::output::ColorChoice;

const AFTER_HELP: &str = "\
Settings come from flags, then the environment, then a profile of the profile file
($KENAR_CONFIG, or ~/.config/kenar/config.toml or config.json), in that order:

  [default]
  base_url = \"http://127.0.0.1:8080\"
  admin_token = \"...\"
  platform_token = \"...\"
  api_key = \"...\"
  access_token = \"...\"
  app = \"dev-app\"
  user = \"dev-user\"      # a platform user id, for trigger and tokens mint
  post = \"gZd7omnS\"      # a post token, for trigger and send

Pick a profile with --profile NAME or KENAR_PROFILE. `kenar config show` says which value
came from where. `kenar-events dev` prints every value a local setup needs.";

/// kenar: the command line of kenar-events (a Kenar-compatible Events API).
///
/// Administers apps, API keys and access tokens; calls the public API as an app does;
/// publishes sample platform events; reads and replays the delivery log; and forwards an
/// app's deliveries live to a local URL.
#[derive(Debug, Parser)]
#[command(name = "kenar", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The server's base URL [default: http://127.0.0.1:8080]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "KENAR_BASE_URL",
        value_name = "URL"
    )]
    pub base_url: Option<String>,
    /// The administrator token (admin commands).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "KENAR_ADMIN_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub admin_token: Option<String>,
    /// The platform's ingestion token (trigger).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "KENAR_PLATFORM_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub platform_token: Option<String>,
    /// The app's API key (subscribe, send).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "KENAR_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<String>,
    /// A user's access token for the app (subscribe, send).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "KENAR_ACCESS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub access_token: Option<String>,
    /// The app commands act on, by slug.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "KENAR_APP",
        value_name = "SLUG"
    )]
    pub app: Option<String>,
    /// The profile of the profile file to use [default: default]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "KENAR_PROFILE",
        value_name = "NAME"
    )]
    pub profile: Option<String>,
    /// The profile file [default: ~/.config/kenar/config.toml]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "KENAR_CONFIG",
        value_name = "PATH"
    )]
    pub config: Option<String>,
    /// Print JSON (the server's documents) instead of text, for scripts.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// When to use colours.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_enum,
        env = "KENAR_COLOR",
        default_value = "auto",
        value_name = "WHEN"
    )]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apps: create, list, show, update, subscriptions.
    #[command(subcommand)]
    Apps(AppsCommand),
    /// API keys of an app: create, list, revoke.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Access tokens: mint for a user, revoke.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Users of the embedded identity store.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Posts and their owners.
    #[command(subcommand)]
    Posts(PostsCommand),
    /// Register an event subscription, as the app (API key + access token).
    Subscribe(SubscribeArgs),
    /// Send an event to a user's or a post's feed, as the app.
    Send(SendArgs),
    /// Publish a realistic sample event through the ingestion API, as the platform.
    #[command(subcommand)]
    Trigger(TriggerKind),
    /// Stream an app's deliveries live and forward each to a local URL.
    Listen(ListenArgs),
    /// The delivery log: list, show, redeliver, redeliver-failed.
    #[command(subcommand)]
    Deliveries(DeliveriesCommand),
    /// The settings in force and where they came from.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}

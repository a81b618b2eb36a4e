//! `kenar`, the command line of kenar-events. Parses the command line, resolves the settings,
//! runs the command and turns its error into a message and an exit code.

mod args;
mod commands;
mod error;
mod http;
mod output;
mod profile;
mod settings;
mod sse;
mod time;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::args::{Cli, Command};
use crate::commands::Ctx;
use crate::error::CliError;
use crate::output::{Output, Style};
use crate::settings::{Home, Inputs, Settings};

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let out = Output::new(cli.global.json, cli.global.color);
    let result = Settings::resolve(&Inputs::from_matches(&matches), &Home::from_env()).and_then(
        |settings| {
            let ctx = Ctx {
                settings,
                out: out.clone(),
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| CliError::Unexpected(format!("cannot start the runtime: {e}")))?;
            runtime.block_on(run(&ctx, cli.command))
        },
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&out, &e);
            ExitCode::from(e.exit_code())
        }
    }
}

async fn run(ctx: &Ctx, command: Command) -> Result<(), CliError> {
    use crate::commands::*;
    match command {
        Command::Apps(c) => apps::run(ctx, c).await,
        Command::Keys(c) => keys::run(ctx, c).await,
        Command::Tokens(c) => tokens::run(ctx, c).await,
        Command::Users(c) => identity::run_users(ctx, c).await,
        Command::Posts(c) => identity::run_posts(ctx, c).await,
        Command::Subscribe(a) => public::subscribe(ctx, a).await,
        Command::Send(a) => public::send(ctx, a).await,
        Command::Trigger(k) => trigger::run(ctx, k).await,
        Command::Listen(a) => listen::run(ctx, a).await,
        Command::Deliveries(c) => deliveries::run(ctx, c).await,
        Command::Config(c) => config::run(ctx, c),
    }
}

/// Prints an error on standard error: one JSON document under `--json`, else a message with
/// the offending fields.
fn report(out: &Output, e: &CliError) {
    if out.json {
        out.note(&e.to_json().to_string());
        return;
    }
    out.note(&format!("{} {e}", out.paint_err(Style::Red, "error:")));
    if let CliError::Api { status, .. } = e {
        for v in status.field_violations() {
            out.note(&format!("  {}: {}", v.field, v.description));
        }
    }
}

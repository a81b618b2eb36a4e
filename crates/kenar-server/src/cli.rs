//! The `kenar-events` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{LogFormat, ServerArgs, Settings};
use crate::startup::{shutdown_signal, Application};

#[derive(Debug, Parser)]
#[command(
    name = "kenar-events",
    version,
    about = "Kenar-compatible events server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServerArgs),
    /// Run the server as a local Kenar for app development: sets up a test app, user, post,
    /// API key and access token, prints them, and allows webhooks to loopback addresses.
    Dev(DevArgs),
}

#[derive(Debug, clap::Args)]
pub struct DevArgs {
    #[command(flatten)]
    pub server: ServerArgs,

    /// Where the dev app's webhooks go.
    #[arg(
        long,
        env = "KENAR_DEV_WEBHOOK_URL",
        default_value = "http://127.0.0.1:9000/webhook"
    )]
    pub webhook_url: String,

    /// Slug of the dev app.
    #[arg(long, env = "KENAR_DEV_APP_SLUG", default_value = "dev-app")]
    pub app_slug: String,

    /// Print the setup as one JSON object on one line of standard output.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Dev(args) => dev(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", crate::error_chain(&*e));
            ExitCode::FAILURE
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn serve(args: ServerArgs) -> Result<(), BoxError> {
    let shutdown = shutdown_signal();
    init_tracing(args.log_format);
    let settings = Settings::from_args(&args);
    let app = Application::build(&settings).await?;
    let addr = app.local_addr();
    tracing::info!(%addr, database = %settings.database.redacted(), "kenar-events listening");
    for (what, env, cred) in [
        ("admin token", "KENAR_ADMIN_TOKEN", &settings.admin_token),
        (
            "platform token",
            "KENAR_PLATFORM_TOKEN",
            &settings.platform_token,
        ),
    ] {
        if cred.generated {
            println!(
                "{what} (generated for this run; set {env} to keep one): {}",
                cred.value.expose()
            );
        }
    }
    app.run_until(shutdown).await?;
    Ok(())
}

async fn dev(mut args: DevArgs) -> Result<(), BoxError> {
    let shutdown = shutdown_signal();
    init_tracing(args.server.log_format);
    args.server.allow_private_targets = true;
    let settings = Settings::from_args(&args.server);
    let app = Application::build(&settings).await?;
    let base_url = format!("http://{}", app.local_addr());
    let info = crate::dev::bootstrap(
        app.state(),
        &base_url,
        settings.admin_token.value.expose(),
        &args.app_slug,
        &args.webhook_url,
    )
    .await?;
    if args.json {
        println!("{}", serde_json::to_string(&info)?);
    } else {
        println!("{}", info.to_text());
    }
    app.run_until(shutdown).await?;
    Ok(())
}

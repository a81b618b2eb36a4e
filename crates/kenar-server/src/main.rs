use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    kenar_server::cli::run(kenar_server::cli::Cli::parse()).await
}

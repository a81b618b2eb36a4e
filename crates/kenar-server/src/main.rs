use std::process::ExitCode;

use clap::Parser;

// The hot paths allocate per event (parsed JSON, bodies, rows); glibc's malloc took a quarter of
// the server's CPU in the throughput benchmark, mimalloc far less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    kenar_server::cli::run(kenar_server::cli::Cli::parse()).await
}

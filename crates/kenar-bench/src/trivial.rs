//! The register scenario's baseline: a trivial axum handler answering `200 {}` to any request,
//! in a process of its own as the real server is (`kenar-bench trivial-server ADDR`).

use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use crate::{fail, Result};

/// The hidden first argument that runs the trivial server instead of the bench.
pub const COMMAND: &str = "trivial-server";

async fn handler() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], "{}")
}

/// `kenar-bench trivial-server ADDR`: serves until killed.
pub fn main() -> ExitCode {
    let Some(addr) = std::env::args().nth(2) else {
        eprintln!("usage: kenar-bench {COMMAND} ADDR");
        return ExitCode::FAILURE;
    };
    let served = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(crate::Error::from)
        .and_then(|rt| {
            rt.block_on(async {
                let listener = tokio::net::TcpListener::bind(&addr).await?;
                let app = axum::Router::new().fallback(handler);
                axum::serve(listener, app).await?;
                Ok(())
            })
        });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{COMMAND}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The trivial server as a child process; killed on drop.
pub struct Trivial {
    child: Child,
    pub addr: std::net::SocketAddr,
}

impl Trivial {
    pub async fn start() -> Result<Trivial> {
        let port = crate::server::free_port()?;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let child = Command::new(std::env::current_exe()?)
            .args([COMMAND, &addr.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()?;
        let trivial = Trivial { child, addr };
        let deadline = Instant::now() + Duration::from_secs(10);
        while crate::client::Conn::open(addr).await.is_err() {
            if Instant::now() > deadline {
                return Err(fail!("the trivial axum server did not start"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(trivial)
    }
}

impl Drop for Trivial {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

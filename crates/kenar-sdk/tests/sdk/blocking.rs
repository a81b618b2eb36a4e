//! The blocking facade against the real server.

use kenar_sdk::{Code, RegisterSubscription};

use crate::support::DevServer;

#[test]
fn the_blocking_client_registers_and_reports_errors() {
    let server = DevServer::start();
    let client = server.client_builder().build_blocking().expect("a client");
    client
        .events()
        .register_subscription(RegisterSubscription::post_updates())
        .expect("registered");
    let err = client
        .with_access_token("kenar_at_unknown")
        .events()
        .register_subscription(RegisterSubscription::post_updates())
        .expect_err("unknown token");
    assert_eq!(err.code(), Some(Code::Unauthenticated));
}

//! The real binary, as a user starts it: `serve` and `dev`, signals, flags and environment.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn binary() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kenar-events"));
    c.env_remove("KENAR_ADMIN_TOKEN")
        .env_remove("KENAR_PLATFORM_TOKEN")
        .env_remove("KENAR_DATABASE_URL")
        .env_remove("KENAR_LISTEN")
        .env("RUST_LOG", "warn");
    c
}

/// Sends SIGTERM and waits (bounded) for a clean exit.
fn terminate(mut child: Child) {
    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "exit status {status}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `dev --json` and returns the process and its one line of JSON.
fn start_dev(dir: &std::path::Path) -> (Child, Value) {
    let mut child = binary()
        .args([
            "dev",
            "--json",
            "--listen",
            "127.0.0.1:0",
            "--webhook-url",
            "http://127.0.0.1:9/hook",
        ])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    (child, info)
}

#[tokio::test]
async fn dev_prints_a_working_setup_as_json_and_reuses_it_on_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (child, info) = start_dev(dir.path());
    for field in [
        "base_url",
        "admin_token",
        "platform_token",
        "app_slug",
        "api_key",
        "access_token",
        "identification_key",
        "user_id",
        "platform_user_id",
        "post_token",
    ] {
        assert!(
            info[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field} missing: {info}"
        );
    }
    assert!(
        dir.path().join("kenar-data").join("kenar.db").exists(),
        "embedded database created"
    );
    let base = info["base_url"].as_str().expect("base");
    let client = reqwest::Client::new();
    for body in [
        json!({"event_type": "NEW_MESSAGE_ON_POST", "event_resource_id": info["post_token"]}),
        json!({"event_type": "NEW_MESSAGE_ON_POST"}),
        json!({"event_type": "POST_UPDATE"}),
    ] {
        let r = client
            .post(format!("{base}/v1/open-platform/events/subscriptions"))
            .header("X-API-Key", info["api_key"].as_str().expect("key"))
            .bearer_auth(info["access_token"].as_str().expect("token"))
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200, "{body}");
    }
    terminate(child);

    let (child, again) = start_dev(dir.path());
    for same in [
        "app_slug",
        "identification_key",
        "user_id",
        "platform_user_id",
        "post_token",
    ] {
        assert_eq!(again[same], info[same], "{same} changed across restarts");
    }
    let base = again["base_url"].as_str().expect("base");
    let r = client
        .get(format!("{base}/admin/v1/apps/dev-app/subscriptions"))
        .bearer_auth(again["admin_token"].as_str().expect("admin"))
        .send()
        .await
        .expect("request");
    let subs: Value = r.json().await.expect("json");
    assert_eq!(
        subs["subscriptions"].as_array().map(Vec::len),
        Some(3),
        "kept across restart"
    );
    terminate(child);
}

#[test]
fn serve_takes_its_settings_from_the_environment_and_prints_generated_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = binary()
        .arg("serve")
        .env("KENAR_LISTEN", "127.0.0.1:0")
        .env("KENAR_DATABASE_URL", dir.path().join("db.sqlite"))
        .env("KENAR_ADMIN_TOKEN", "from-env")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    assert!(line.starts_with("platform token (generated"), "{line}");
    assert!(!line.contains("from-env"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.path().join("db.sqlite").exists() {
        assert!(Instant::now() < deadline, "database not created");
        std::thread::sleep(Duration::from_millis(20));
    }
    terminate(child);
}

#[test]
fn help_documents_every_setting_and_its_variable() {
    let out = binary().args(["serve", "--help"]).output().expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--listen",
        "KENAR_LISTEN",
        "--database",
        "KENAR_DATABASE_URL",
        "--admin-token",
        "KENAR_ADMIN_TOKEN",
        "--platform-token",
        "KENAR_PLATFORM_TOKEN",
        "--allow-private-targets",
    ] {
        assert!(help.contains(needle), "{needle} missing from --help");
    }
    let out = binary().args(["dev", "--help"]).output().expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--webhook-url") && help.contains("--json") && help.contains("--listen"));
}

#[test]
fn a_bad_database_url_fails_with_a_clear_message() {
    let out = binary()
        .args([
            "serve",
            "--database",
            "mysql://nowhere/db",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database URL"));
}

//! Output forms, settings in layers (flags, environment, profile file), and errors.

use serde_json::Value;

use crate::support::{Dev, Kenar};

const ESC: char = '\x1b';

#[test]
fn json_output_is_one_document_and_text_has_no_colour_when_piped() {
    let dev = Dev::start();
    let kenar = dev.kenar();
    kenar.ok(&["trigger", "payment"]);
    for args in [
        vec!["apps", "list"],
        vec!["apps", "show"],
        vec!["keys", "list"],
        vec!["deliveries", "list"],
        vec!["config", "show"],
    ] {
        let doc = kenar.json(&args);
        assert!(doc.is_object(), "{args:?}: {doc}");
        let text = kenar.run(&args);
        assert!(text.success());
        assert!(!text.stdout.contains(ESC), "{args:?}: {:?}", text.stdout);
        assert!(!text.stderr.contains(ESC), "{args:?}: {:?}", text.stderr);
        assert!(
            serde_json::from_str::<Value>(&text.stdout).is_err(),
            "{args:?} prints text by default"
        );
    }
    // The same table is coloured when asked for, so the check above means something.
    let forced = kenar.ok(&["deliveries", "list", "--color", "always"]);
    assert!(forced.contains(ESC), "{forced:?}");
    let run = kenar.run(&["apps", "show", "nope"]);
    assert!(!run.stderr.contains(ESC), "{:?}", run.stderr);
}

fn write_profile(kenar: &Kenar, name: &str, text: &str) -> std::path::PathBuf {
    let dir = kenar.home().join(".config").join("kenar");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the profile file");
    path
}

/// `config show --json`'s (value, source) of a setting.
fn setting(kenar: &Kenar, args: &[&str], name: &str) -> (Value, Value) {
    let mut argv = vec!["config", "show", "--reveal"];
    argv.extend_from_slice(args);
    let shown = kenar.json(&argv);
    let s = &shown["settings"][name];
    (s["value"].clone(), s["source"].clone())
}

#[test]
fn a_profile_file_is_read_and_the_environment_and_flags_override_it() {
    let dev = Dev::start();
    let base = dev.get("base_url");
    let admin = dev.get("admin_token");
    let kenar = Kenar::new();
    write_profile(
        &kenar,
        "config.toml",
        &format!(
            "[default]\nbase_url = \"{base}\"\nadmin_token = \"wrong\"\napp = \"dev-app\"\n\n\
             [staging]\nbase_url = \"{base}\"\nadmin_token = \"{admin}\"\n"
        ),
    );
    // The profile alone: its base URL is used (the server answers), its token is refused.
    let run = kenar.run(&["apps", "show"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("invalid admin token"), "{}", run.stderr);
    assert_eq!(
        setting(&kenar, &[], "base_url"),
        (Value::from(base.as_str()), Value::from("profile"))
    );

    // The environment overrides the profile...
    let with_env = Kenar::new().env("KENAR_ADMIN_TOKEN", &admin);
    write_profile(
        &with_env,
        "config.toml",
        &format!("[default]\nbase_url = \"{base}\"\nadmin_token = \"wrong\"\napp = \"dev-app\"\n"),
    );
    assert_eq!(with_env.json(&["apps", "show"])["slug"], "dev-app");
    assert_eq!(
        setting(&with_env, &[], "admin_token"),
        (Value::from(admin.as_str()), Value::from("environment"))
    );
    // ...and a flag overrides the environment.
    let run = with_env.run(&["apps", "show", "--admin-token", "also-wrong"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert_eq!(
        setting(&with_env, &["--app", "shop"], "app"),
        (Value::from("shop"), Value::from("flag"))
    );
    let with_env = with_env.env("KENAR_APP", "from-env");
    assert_eq!(
        setting(&with_env, &[], "app"),
        (Value::from("from-env"), Value::from("environment"))
    );

    // A named profile, by flag or by variable.
    assert_eq!(
        kenar.json(&["--profile", "staging", "apps", "show", "dev-app"])["slug"],
        "dev-app"
    );
    let by_env = Kenar::new().env("KENAR_PROFILE", "staging");
    write_profile(
        &by_env,
        "config.toml",
        &format!("[staging]\nbase_url = \"{base}\"\nadmin_token = \"{admin}\"\n"),
    );
    by_env.ok(&["apps", "list"]);
    let run = kenar.run(&["--profile", "prod", "apps", "list"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("no profile \"prod\""), "{}", run.stderr);

    // A JSON profile file named by KENAR_CONFIG.
    let json_user = Kenar::new();
    let path = write_profile(
        &json_user,
        "elsewhere.json",
        &serde_json::json!({"default": {"base_url": base, "admin_token": admin, "app": "dev-app"}})
            .to_string(),
    );
    let json_user = json_user.env("KENAR_CONFIG", &path.display().to_string());
    assert_eq!(json_user.json(&["apps", "show"])["slug"], "dev-app");
}

#[test]
fn a_server_error_says_what_the_server_said_and_exits_non_zero() {
    let dev = Dev::start();
    let kenar = dev.kenar().env("KENAR_ADMIN_TOKEN", "not-the-token");
    let run = kenar.run(&["apps", "list"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_eq!(
        run.stderr.trim(),
        "error: HTTP 401 UNAUTHENTICATED: invalid admin token"
    );

    let run = kenar.run(&["apps", "list", "--json"]);
    assert_eq!(run.code, Some(1));
    let doc: Value = serde_json::from_str(run.stderr.trim()).expect("a JSON error document");
    assert_eq!(doc["http_status"], 401);
    assert_eq!(doc["error"]["code"], 16);
    assert_eq!(doc["error"]["message"], "invalid admin token");

    // Field violations are listed one per line.
    let run = dev
        .kenar()
        .run(&["apps", "create", "Not A Slug", "--kind", "weird"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("INVALID_ARGUMENT"), "{}", run.stderr);
    assert!(run.stderr.contains("\n  slug: "), "{}", run.stderr);
    assert!(run.stderr.contains("\n  kind: "), "{}", run.stderr);

    let nowhere = dev.kenar().env("KENAR_BASE_URL", "http://127.0.0.1:9");
    let run = nowhere.run(&["apps", "list"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("could not connect to"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_setting_is_a_usage_error_saying_where_to_set_it() {
    let run = Kenar::new().run(&["apps", "list"]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("--admin-token") && run.stderr.contains("KENAR_ADMIN_TOKEN"),
        "{}",
        run.stderr
    );
    let run = Kenar::new()
        .env("KENAR_ADMIN_TOKEN", "x")
        .run(&["keys", "list"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("no app"), "{}", run.stderr);
    let run = Kenar::new().run(&["trigger", "nothing"]);
    assert_eq!(run.code, Some(2), "clap's own usage errors: {}", run.stderr);
}

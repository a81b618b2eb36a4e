//! Administration: apps, API keys, access tokens, users and posts.

use crate::support::Dev;

#[test]
fn apps_are_created_listed_shown_and_updated() {
    let dev = Dev::start();
    let kenar = dev.kenar();
    let created = kenar.json(&[
        "apps",
        "create",
        "shop",
        "--name",
        "The Shop",
        "--webhook-url",
        "http://127.0.0.1:9/shop",
        "--generate-signing-secret",
    ]);
    assert_eq!(created["slug"], "shop");
    assert_eq!(created["name"], "The Shop");
    assert!(created["signing_secret"]
        .as_str()
        .is_some_and(|s| s.starts_with("whsec_")));

    let list = kenar.json(&["apps", "list"]);
    let slugs: Vec<&str> = list["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .filter_map(|a| a["slug"].as_str())
        .collect();
    assert_eq!(slugs, ["dev-app", "shop"]);
    let table = kenar.ok(&["apps", "list"]);
    assert!(table.starts_with("SLUG"), "{table}");
    assert!(
        table.contains("shop") && table.contains("The Shop"),
        "{table}"
    );

    let shown = kenar.json(&["apps", "show", "shop"]);
    assert_eq!(shown["webhook_url"], "http://127.0.0.1:9/shop");
    let human = kenar.ok(&["apps", "show", "shop"]);
    assert!(human.contains("identification key"), "{human}");

    let updated = kenar.json(&[
        "apps",
        "update",
        "shop",
        "--name",
        "Renamed",
        "--no-signing-secret",
    ]);
    assert_eq!(updated["name"], "Renamed");
    assert!(updated["signing_secret"].is_null());
    assert_eq!(
        updated["webhook_url"], "http://127.0.0.1:9/shop",
        "absent fields stay"
    );

    // Without a slug, the --app setting (KENAR_APP here) is the app.
    assert_eq!(kenar.json(&["apps", "show"])["slug"], "dev-app");
    let run = kenar.run(&["apps", "create", "shop"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("ALREADY_EXISTS") && run.stderr.contains("already exists"),
        "{}",
        run.stderr
    );
}

#[test]
fn keys_are_created_listed_and_revoked_and_a_revoked_key_is_refused() {
    let dev = Dev::start();
    let kenar = dev.kenar();
    let key = kenar.json(&[
        "keys",
        "create",
        "--name",
        "ci",
        "--permission",
        "events-register-subscription",
    ]);
    let secret = key["key"].as_str().expect("the key, shown once").to_owned();
    assert_eq!(
        key["permissions"],
        serde_json::json!(["EVENTS_REGISTER_SUBSCRIPTION"])
    );
    let id = key["id"].as_i64().expect("an id").to_string();

    let listed = kenar.json(&["keys", "list"]);
    let ci = listed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["name"] == "ci")
        .expect("the new key is listed")
        .clone();
    assert!(ci.get("key").is_none(), "never the secret again: {ci}");
    assert!(ci["revoked_at"].is_null());

    let with_key = dev.kenar().env("KENAR_API_KEY", &secret);
    with_key.ok(&["subscribe", "post-update"]);

    let revoked = kenar.json(&["keys", "revoke", &id]);
    assert!(revoked["revoked_at"].is_string());
    let human = kenar.ok(&["keys", "list"]);
    assert!(human.contains("ci"), "{human}");

    let run = with_key.run(&["subscribe", "post-update"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("HTTP 401 UNAUTHENTICATED"),
        "{}",
        run.stderr
    );
}

#[test]
fn minted_tokens_work_until_they_are_revoked() {
    let dev = Dev::start();
    let kenar = dev.kenar();
    kenar.ok(&["users", "create", "u-42", "--display-name", "Sara"]);
    let post = kenar.json(&["posts", "create", "post4200", "--owner", "u-42"]);
    assert_eq!(post["owner_id"], "u-42");
    assert_eq!(
        kenar.json(&["users", "show", "u-42"])["display_name"],
        "Sara"
    );

    let minted = kenar.json(&[
        "tokens",
        "mint",
        "--user",
        "u-42",
        "--scope",
        "CHAT_POST_CONVERSATIONS_READ.post4200",
        "--scope",
        "USER_POSTS_GET SEND_EVENT",
        "--expires-in",
        "2h",
    ]);
    assert_eq!(minted["expires_in"], 7200);
    assert_eq!(minted["token_type"], "bearer");
    let token = minted["access_token"].as_str().expect("a token").to_owned();
    let app_user = minted["user_id"].as_str().expect("the app's user id");
    assert_ne!(app_user, "u-42", "apps see pseudonyms");

    let as_user = dev.kenar().env("KENAR_ACCESS_TOKEN", &token);
    as_user.ok(&["subscribe", "new-message-on-post", "--post", "post4200"]);
    as_user.ok(&["send", "--user", app_user, "your report is ready"]);

    let human = kenar.ok(&["tokens", "revoke", &token]);
    assert!(human.contains("Revoked"), "{human}");
    let run = as_user.run(&["subscribe", "post-update"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("UNAUTHENTICATED"), "{}", run.stderr);

    let subs = kenar.json(&["apps", "subscriptions"]);
    let mine: Vec<_> = subs["subscriptions"]
        .as_array()
        .expect("subscriptions")
        .iter()
        .filter(|s| s["user_id"] == "u-42")
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["active"], false, "it lived by the revoked token");
}

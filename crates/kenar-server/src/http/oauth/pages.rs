//! The HTML the authorization server shows users: the dev login, the consent page, the list of
//! connected apps, and error pages. Every value is escaped.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// HTML-escapes text for element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;\
         margin:3rem auto;padding:0 1rem;color:#222}}button{{font-size:1rem;padding:.5rem 1rem;\
         margin-right:.5rem}}li{{margin:.3rem 0}}code{{background:#f3f3f3;padding:0 .2rem}}\
         .muted{{color:#666}}</style></head><body><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    )
}

/// An error shown to the user instead of a redirect (unknown client, bad redirect URI).
pub fn error(status: StatusCode, title: &str, detail: &str) -> Response {
    (
        status,
        Html(page(title, &format!("<p>{}</p>", esc(detail)))),
    )
        .into_response()
}

/// The dev login: sign in as any user by id (the embedded default has no passwords).
pub fn login(next: &str) -> Html<String> {
    Html(page(
        "Sign in (dev login)",
        &format!(
            "<p class=\"muted\">This server's built-in identity store signs users in by id, \
             for development. A user that does not exist yet is created.</p>\
             <form method=\"post\" action=\"/oauth2/login\">\
             <input type=\"hidden\" name=\"next\" value=\"{next}\">\
             <p><label>User id <input name=\"user_id\" required autofocus></label></p>\
             <p><button type=\"submit\">Sign in</button></p></form>",
            next = esc(next)
        ),
    ))
}

/// One scope, for the consent page.
pub fn describe_scope(scope: &str) -> String {
    let (name, resource) = scope.split_once('.').unwrap_or((scope, ""));
    let what = match name {
        "USER_ID" => "know who you are",
        "USER_PHONE" => "see your phone number",
        "USER_POSTS_GET" => "see your posts and their updates",
        "USER_ADDON_CREATE" => "add add-ons to your profile",
        "USER_POSTS_ADDON_CREATE" => "add add-ons to your posts",
        "CHAT_SUPPLIER_ALL_CONVERSATIONS_READ" => "read the chats on all your posts",
        "CHAT_SUPPLIER_ALL_CONVERSATIONS_MESSAGE_SEND" => {
            "send messages in the chats on your posts"
        }
        "CHAT_BOT_USER_MESSAGE_SEND" => "message you through its chatbot",
        "SEND_EVENT" => "send you events",
        "NOTIFICATION_ACCESS_REVOCATION" => "be told when you revoke its access",
        "offline_access" => "keep access while you are away",
        "CHAT_POST_CONVERSATIONS_READ" => "read the chats on post",
        "CHAT_POST_CONVERSATIONS_MESSAGE_SEND" => "send messages in the chats on post",
        "POST_ADDON_CREATE" => "add add-ons to post",
        _ => "",
    };
    if resource.is_empty() {
        format!("{} (<code>{}</code>)", esc(what), esc(scope))
    } else {
        format!(
            "{} <b>{}</b> (<code>{}</code>)",
            esc(what),
            esc(resource),
            esc(scope)
        )
    }
}

/// The consent page: the hidden fields carry the request back with the decision.
pub fn consent(
    app_name: &str,
    user: &str,
    scopes: &[String],
    fields: &[(&str, &str)],
) -> Html<String> {
    let hidden: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                esc(k),
                esc(v)
            )
        })
        .collect();
    let items: String = scopes
        .iter()
        .map(|s| format!("<li>{}</li>", describe_scope(s)))
        .collect();
    Html(page(
        "Allow access?",
        &format!(
            "<p><b>{app}</b> asks to access your account (<code>{user}</code>). It will be able to:</p>\
             <ul>{items}</ul><form method=\"post\" action=\"/oauth2/auth\">{hidden}\
             <button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\
             <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
            app = esc(app_name),
            user = esc(user),
        ),
    ))
}

/// The apps a user has given access to, each with a revoke button.
pub fn connected_apps(user: &str, apps: &[(String, String, String)], csrf: &str) -> Html<String> {
    let items: String = if apps.is_empty() {
        "<p class=\"muted\">No app has access to your account.</p>".into()
    } else {
        let rows: String = apps
            .iter()
            .map(|(slug, name, scopes)| {
                format!(
                    "<li><b>{}</b> <span class=\"muted\">{}</span>\
                     <form method=\"post\" action=\"/oauth2/apps/{}/revoke\" style=\"display:inline\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                     <button type=\"submit\">Revoke</button></form></li>",
                    esc(name),
                    esc(scopes),
                    esc(slug),
                    esc(csrf)
                )
            })
            .collect();
        format!("<ul>{rows}</ul>")
    };
    Html(page(
        "Connected apps",
        &format!("<p>Signed in as <code>{}</code>.</p>{items}", esc(user)),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping_neutralises_markup() {
        assert_eq!(
            super::esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}

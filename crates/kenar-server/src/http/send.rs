//! Send an event to a user (contract 1.2, experimental).

use axum::extract::{FromRequest, FromRequestParts, RawQuery, Request, State};
use axum::Json;
use kenar_wire::events::{Action, SendEventRequest, SendEventResponse};
use kenar_wire::json::kind_of;
use kenar_wire::status::{FieldViolation, Status};
use kenar_wire::FromJson;
use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};
use super::extract::{read_object, AppCall, MAX_BODY_BYTES};
use super::state::AppState;
use crate::domain::time::now_ms;
use crate::domain::url::{PrivateTargets, TargetUrl};
use crate::domain::{Permission, PostToken, ScopeName, UserId};
use crate::store::NewFeedEvent;

/// Longest `message`, in Unicode characters.
pub const MAX_MESSAGE_CHARS: usize = 1000;
/// Most buttons on one event.
pub const MAX_BUTTONS: usize = 5;
/// Button titles are 5 to 50 Unicode characters.
pub const TITLE_CHARS: std::ops::RangeInclusive<usize> = 5..=50;

/// Where the event goes.
#[derive(Debug)]
enum Target {
    /// The token's user, by the id this app knows them by.
    User(String),
    Post(PostToken),
}

/// A send request, parsed.
#[derive(Debug)]
struct SendEvent {
    message: String,
    target: Target,
    /// The buttons' items, validated, in their wire form.
    buttons: Option<Vec<Value>>,
}

/// The request as it came: the JSON body when there is one (then it is the whole request),
/// else the query parameters (what the official SDKs send).
pub struct SendInput(Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for SendInput {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        let (mut parts, body) = req.into_parts();
        let RawQuery(query) = RawQuery::from_request_parts(&mut parts, state)
            .await
            .unwrap_or(RawQuery(None));
        let body = read_object(Request::from_parts(parts, body), MAX_BODY_BYTES).await?;
        if !body.is_empty() {
            return Ok(SendInput(body));
        }
        let fields = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        Ok(SendInput(fields))
    }
}

fn field<'a>(body: &'a Map<String, Value>, snake: &str, camel: &str) -> Option<&'a Value> {
    body.get(snake)
        .or_else(|| body.get(camel))
        .filter(|v| !v.is_null())
}

struct Violations(Vec<FieldViolation>);

impl Violations {
    fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }
}

fn string<'a>(v: &mut Violations, name: &str, value: Option<&'a Value>) -> Option<&'a str> {
    match value {
        None => {
            v.add(name, "required");
            None
        }
        Some(Value::String(s)) if s.is_empty() => {
            v.add(name, "required");
            None
        }
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            v.add(name, format!("must be a string, not {}", kind_of(other)));
            None
        }
    }
}

fn parse(body: &Map<String, Value>) -> Result<SendEvent, Vec<FieldViolation>> {
    let mut v = Violations(Vec::new());
    let message = string(&mut v, "message", field(body, "message", "message")).map(str::to_owned);
    if let Some(m) = &message {
        let n = m.chars().count();
        if n > MAX_MESSAGE_CHARS {
            v.add(
                "message",
                format!("is {n} characters; the limit is {MAX_MESSAGE_CHARS}"),
            );
        }
    }
    let target_type = string(
        &mut v,
        "target_type",
        field(body, "target_type", "targetType"),
    );
    let resource = string(
        &mut v,
        "target_resource_id",
        field(body, "target_resource_id", "targetResourceId"),
    );
    let target = match (target_type, resource) {
        (Some("USER"), Some(id)) if id.len() <= 256 => Some(Target::User(id.to_owned())),
        (Some("USER"), Some(_)) => {
            v.add("target_resource_id", "is longer than 256 bytes");
            None
        }
        (Some("POST"), Some(token)) => match PostToken::parse(token) {
            Ok(p) => Some(Target::Post(p)),
            Err(e) => {
                v.add("target_resource_id", e.to_string());
                None
            }
        },
        (Some("USER" | "POST"), None) => None,
        (Some(other), _) => {
            v.add("target_type", format!("unknown value {other:?}"));
            None
        }
        (None, _) => None,
    };
    let buttons = field(body, "buttons", "buttons").and_then(|b| buttons(&mut v, b));
    match (message, target) {
        (Some(message), Some(target)) if v.0.is_empty() => Ok(SendEvent {
            message,
            target,
            buttons,
        }),
        _ => Err(v.0),
    }
}

fn buttons(v: &mut Violations, value: &Value) -> Option<Vec<Value>> {
    let Value::Object(b) = value else {
        v.add(
            "buttons",
            format!("must be an object, not {}", kind_of(value)),
        );
        return None;
    };
    let items = match b.get("items").filter(|i| !i.is_null()) {
        None => return Some(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            v.add(
                "buttons.items",
                format!("must be an array, not {}", kind_of(other)),
            );
            return None;
        }
    };
    if items.len() > MAX_BUTTONS {
        v.add(
            "buttons.items",
            format!("at most {MAX_BUTTONS} buttons, got {}", items.len()),
        );
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("buttons.items[{i}]");
        let Value::Object(button) = item else {
            v.add(&at, format!("must be an object, not {}", kind_of(item)));
            continue;
        };
        match button.get("title") {
            Some(Value::String(t)) if TITLE_CHARS.contains(&t.chars().count()) => {}
            Some(Value::String(t)) => v.add(
                format!("{at}.title"),
                format!(
                    "is {} characters; a title has {} to {}",
                    t.chars().count(),
                    TITLE_CHARS.start(),
                    TITLE_CHARS.end()
                ),
            ),
            Some(other) => v.add(
                format!("{at}.title"),
                format!("must be a string, not {}", kind_of(other)),
            ),
            None => v.add(format!("{at}.title"), "required"),
        }
        let action = match button.get("action") {
            None | Some(Value::Null) => {
                v.add(format!("{at}.action"), "required");
                continue;
            }
            Some(a) => a,
        };
        match Action::from_json(action) {
            Err(e) => {
                let path = if e.path().is_empty() {
                    format!("{at}.action")
                } else {
                    format!("{at}.action.{}", e.path())
                };
                v.add(path, e.message());
            }
            Ok(parsed) => {
                if let Err((field, why)) = check_action(&parsed) {
                    v.add(format!("{at}.action.{field}"), why);
                }
                out.push(serde_json::json!({
                    "title": button.get("title").cloned().unwrap_or(Value::Null),
                    "action": parsed,
                }));
            }
        }
    }
    Some(out)
}

/// An action's content: links are http(s) URLs, post tokens are post tokens.
fn check_action(action: &Action) -> Result<(), (&'static str, String)> {
    match action {
        Action::OpenDirectLink(url) => TargetUrl::parse(url, PrivateTargets::Allow)
            .map(|_| ())
            .map_err(|e| ("open_direct_link", e)),
        Action::OpenPostPage { post_token } => PostToken::parse(post_token)
            .map(|_| ())
            .map_err(|e| ("open_post_page.post_token", e.to_string())),
        Action::OpenPostManagePage { post_token } => PostToken::parse(post_token)
            .map(|_| ())
            .map_err(|e| ("open_post_manage_page.post_token", e.to_string())),
        Action::OpenServerLink { .. } | Action::GetDynamicAction { .. } => Ok(()),
    }
}

/// Send an event to a user (experimental).
///
/// The official SDKs send `message`, `target_type` and `target_resource_id` as query
/// parameters and no body; a JSON body with the same fields and `buttons` is the whole request
/// when present. A `USER` target must be the token's user as this app knows them; a `POST`
/// target must be one of the token user's posts. The event lands in that user's (or post's)
/// feed.
#[utoipa::path(
    post,
    path = "/experimental/open-platform/events/send",
    tag = "events",
    request_body(content = SendEventRequest, description = "Optional: the JSON form, with buttons"),
    params(
        ("message" = Option<String>, Query, description = "The text (query form)"),
        ("target_type" = Option<String>, Query, description = "USER or POST (query form)"),
        ("target_resource_id" = Option<String>, Query, description = "The user's id as the app knows it, or a post token (query form)"),
        ("X-API-Key" = String, Header, description = "The app's API key; needs EVENTS_SEND"),
        ("Authorization" = String, Header, description = "Bearer <access token> with SEND_EVENT"),
    ),
    responses(
        (status = 200, description = "Sent", body = SendEventResponse),
        (status = 400, description = "Invalid request (code 3)", body = Status),
        (status = 401, description = "Missing or invalid credentials (code 16)", body = Status),
        (status = 403, description = "Missing permission or scope, or a target that is not the token's (code 7)", body = Status),
        (status = 404, description = "Unknown post (code 5)", body = Status),
        (status = 429, description = "Rate limited (code 8)", body = Status),
    )
)]
pub async fn send_event(
    State(state): State<AppState>,
    call: AppCall,
    SendInput(input): SendInput,
) -> ApiResult<Json<SendEventResponse>> {
    call.require_permission(Permission::EventsSend)?;
    let req = parse(&input).map_err(ApiError::bad_request)?;
    if !call.token.scopes.has_global(ScopeName::SendEvent) {
        return Err(ApiError::permission_denied(
            "access token lacks the scope SEND_EVENT",
        ));
    }
    let user = &call.token.user_id;
    let post = match &req.target {
        Target::User(id) => {
            let user_id = UserId::parse(user).map_err(ApiError::internal)?;
            let mine = state.pseudonyms.user_id_for_app(call.app().id, &user_id);
            if !crate::domain::credentials::secrets_equal(id, &mine) {
                return Err(ApiError::permission_denied(
                    "target_resource_id is not the access token's user",
                ));
            }
            None
        }
        Target::Post(post) => {
            let record = state
                .store
                .post(post.as_str())
                .await?
                .ok_or_else(|| ApiError::not_found(format!("post {post} not found")))?;
            if &record.owner_id != user {
                return Err(ApiError::permission_denied(format!(
                    "post {post} does not belong to the access token's user"
                )));
            }
            Some(post.as_str())
        }
    };
    let buttons = req
        .buttons
        .filter(|b| !b.is_empty())
        .map(|b| Value::Array(b).to_string());
    let id = state
        .store
        .insert_feed_event(NewFeedEvent {
            app_id: call.app().id,
            user_id: user,
            target_type: if post.is_some() { "POST" } else { "USER" },
            post_token: post,
            message: &req.message,
            buttons: buttons.as_deref(),
            now: now_ms(),
        })
        .await?;
    tracing::info!(
        feed_event_id = id,
        app_id = call.app().id,
        "event sent to a user"
    );
    Ok(Json(SendEventResponse {}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Vec<String> {
        match v {
            Value::Object(m) => parse(&m)
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|f| f.field)
                .collect(),
            _ => unreachable!("tests pass objects"),
        }
    }

    #[test]
    fn the_contract_vector_parses() {
        let v: Value = serde_json::from_str(include_str!(
            "../../../../../shared/contract/vectors/send_event_request_body.json"
        ))
        .expect("vector");
        let Value::Object(m) = v else {
            unreachable!("an object")
        };
        let req = parse(&m).expect("valid");
        assert_eq!(req.buttons.map(|b| b.len()), Some(2));
        assert!(matches!(req.target, Target::Post(_)));
    }

    #[test]
    fn titles_are_counted_in_unicode_characters() {
        // "سلام" is 4 characters (8 bytes): too short; "سلام!" is 5: enough.
        let with = |title: &str| {
            json!({"message": "m", "target_type": "USER", "target_resource_id": "x",
                   "buttons": {"items": [{"title": title, "action": {"open_direct_link": "https://e.com"}}]}})
        };
        assert_eq!(fields(with("سلام")), ["buttons.items[0].title"]);
        assert!(fields(with("سلام!")).is_empty());
        assert!(fields(with(&"ب".repeat(50))).is_empty());
        assert_eq!(fields(with(&"ب".repeat(51))), ["buttons.items[0].title"]);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let got = fields(json!({
            "target_type": "GROUP",
            "buttons": {"items": [
                {"title": "short"},
                {"title": "a fine title", "action": {"open_direct_link": "ftp://x", }},
                {"title": "a fine title", "action": {"open_post_page": {"post_token": "bad/token"}}},
                {"title": "a fine title", "action": {"open_direct_link": "https://e.com", "open_post_page": {"post_token": "abc"}}},
            ]}
        }));
        assert_eq!(
            got,
            [
                "message",
                "target_resource_id",
                "target_type",
                "buttons.items[0].action",
                "buttons.items[1].action.open_direct_link",
                "buttons.items[2].action.open_post_page.post_token",
                "buttons.items[3].action",
            ]
        );
    }
}

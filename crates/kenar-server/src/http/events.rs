//! Kenar's Events API (contract §1).

use axum::extract::State;
use axum::Json;
use kenar_wire::events::{EventType, RegisterSubscriptionRequest, RegisterSubscriptionResponse};
use kenar_wire::json::kind_of;
use kenar_wire::status::{FieldViolation, Status};
use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};
use super::extract::{AppCall, JsonBody};
use super::state::AppState;
use crate::domain::time::now_ms;
use crate::domain::{Permission, PostToken, ScopeName};
use crate::store::NewSubscription;

/// Largest `metadata` object, serialized; it is copied into every webhook the subscription
/// causes, so it stays small.
pub const MAX_METADATA_BYTES: usize = 4096;

/// A registration request, parsed.
#[derive(Debug)]
struct Registration {
    event_type: EventType,
    /// `None`: all of the user's posts.
    post: Option<PostToken>,
    /// Serialized, as it is stored and as its size was judged.
    metadata: Option<String>,
}

/// A field of a proto3-JSON body, by its snake_case name or its lowerCamelCase one; `null`
/// reads as absent.
fn field<'a>(body: &'a Map<String, Value>, snake: &str, camel: &str) -> Option<&'a Value> {
    body.get(snake)
        .or_else(|| body.get(camel))
        .filter(|v| !v.is_null())
}

fn parse_registration(body: &Map<String, Value>) -> Result<Registration, Vec<FieldViolation>> {
    let mut violations = Vec::new();
    let mut violation = |field: &str, description: String| {
        violations.push(FieldViolation {
            field: field.to_owned(),
            description,
        })
    };

    let event_type = match field(body, "event_type", "eventType") {
        None => {
            violation("event_type", "required".into());
            None
        }
        Some(Value::String(s)) => match s.parse::<EventType>() {
            Ok(t) => Some(t),
            Err(_) => {
                violation("event_type", format!("unknown value {s:?}"));
                None
            }
        },
        Some(other) => {
            violation(
                "event_type",
                format!("must be an enum name string, not {}", kind_of(other)),
            );
            None
        }
    };

    let post = match field(body, "event_resource_id", "eventResourceId") {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => match PostToken::parse(s) {
            Ok(p) => Some(p),
            Err(e) => {
                violation("event_resource_id", e.to_string());
                None
            }
        },
        Some(other) => {
            violation(
                "event_resource_id",
                format!("must be a string, not {}", kind_of(other)),
            );
            None
        }
    };

    let metadata = match field(body, "metadata", "metadata") {
        None => None,
        Some(object @ Value::Object(_)) => {
            // A `Value` always serializes; its keys are strings.
            let serialized = object.to_string();
            if serialized.len() > MAX_METADATA_BYTES {
                violation(
                    "metadata",
                    format!(
                        "is {} bytes serialized; the limit is {MAX_METADATA_BYTES}",
                        serialized.len()
                    ),
                );
            }
            Some(serialized)
        }
        Some(other) => {
            violation(
                "metadata",
                format!("must be a JSON object, not {}", kind_of(other)),
            );
            None
        }
    };

    match event_type {
        Some(event_type) if violations.is_empty() => Ok(Registration {
            event_type,
            post,
            metadata,
        }),
        _ => Err(violations),
    }
}

/// Register an event subscription.
///
/// The subscription belongs to (app, user, event type, resource) and lives as long as the
/// access token that registered it; registering the same tuple again extends its life and
/// replaces its metadata.
#[utoipa::path(
    post,
    path = "/v1/open-platform/events/subscriptions",
    tag = "events",
    request_body = RegisterSubscriptionRequest,
    params(
        ("X-API-Key" = String, Header, description = "The app's API key; needs EVENTS_REGISTER_SUBSCRIPTION"),
        ("Authorization" = String, Header, description = "Bearer <access token> (or x-access-token: <token>)"),
    ),
    responses(
        (status = 200, description = "Registered", body = RegisterSubscriptionResponse),
        (status = 400, description = "Invalid request (code 3) or no webhook URL configured (code 9)", body = Status),
        (status = 401, description = "Missing, invalid, expired or revoked credentials (code 16)", body = Status),
        (status = 403, description = "Missing permission or scope, or not the post's owner (code 7)", body = Status),
        (status = 404, description = "Unknown post (code 5)", body = Status),
    )
)]
pub async fn register_subscription(
    State(state): State<AppState>,
    call: AppCall,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<RegisterSubscriptionResponse>> {
    call.require_permission(Permission::EventsRegisterSubscription)?;
    let req = parse_registration(&body).map_err(ApiError::bad_request)?;

    let scopes = &call.token.scopes;
    let allowed = match (req.event_type, &req.post) {
        (EventType::NewMessageOnPost, Some(post)) => {
            scopes.has_on_post(ScopeName::ChatPostConversationsRead, post)
                || scopes.has_global(ScopeName::ChatSupplierAllConversationsRead)
        }
        (EventType::NewMessageOnPost, None) => {
            scopes.has_global(ScopeName::ChatSupplierAllConversationsRead)
        }
        (EventType::PostUpdate, _) => scopes.has_global(ScopeName::UserPostsGet),
    };
    if !allowed {
        let needed = match (req.event_type, &req.post) {
            (EventType::NewMessageOnPost, Some(post)) => format!(
                "CHAT_POST_CONVERSATIONS_READ.{post} or CHAT_SUPPLIER_ALL_CONVERSATIONS_READ"
            ),
            (EventType::NewMessageOnPost, None) => "CHAT_SUPPLIER_ALL_CONVERSATIONS_READ".into(),
            (EventType::PostUpdate, _) => "USER_POSTS_GET".into(),
        };
        return Err(ApiError::permission_denied(format!(
            "access token lacks the scope {needed}"
        )));
    }

    if call.app().webhook_url.is_none() {
        return Err(ApiError::failed_precondition(
            "the app has no webhook URL configured; set one in the panel first",
        ));
    }

    if let Some(post) = &req.post {
        let record = state
            .store
            .post_cached(post.as_str())
            .await?
            .ok_or_else(|| ApiError::not_found(format!("post {post} not found")))?;
        if record.owner_id != call.token.user_id {
            return Err(ApiError::permission_denied(format!(
                "post {post} does not belong to the token's user"
            )));
        }
    }

    state
        .subscriptions
        .write(NewSubscription {
            app_id: call.app().id,
            user_id: call.token.user_id.clone(),
            event_type: req.event_type.as_str(),
            resource: req.post.map(|p| p.as_str().to_owned()).unwrap_or_default(),
            metadata: req.metadata,
            access_token_id: call.token.id,
            token_expires_at: call.token.expires_at,
            now: now_ms(),
        })
        .await?;
    Ok(Json(RegisterSubscriptionResponse {}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Registration, Vec<FieldViolation>> {
        match v {
            Value::Object(m) => parse_registration(&m),
            _ => unreachable!("tests pass objects"),
        }
    }

    #[test]
    fn camel_case_and_null_fields_are_read_leniently() {
        let r = parse(json!({"eventType": "POST_UPDATE", "eventResourceId": null, "x": 1}))
            .expect("valid");
        assert_eq!(r.event_type, EventType::PostUpdate);
        assert!(r.post.is_none());
    }

    #[test]
    fn every_offending_field_is_reported() {
        let v = parse(json!({
            "event_type": "FOO",
            "event_resource_id": 12,
            "metadata": [1]
        }))
        .expect_err("invalid");
        let fields: Vec<_> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["event_type", "event_resource_id", "metadata"]);
        assert_eq!(v[0].description, "unknown value \"FOO\"");
    }

    #[test]
    fn oversized_metadata_and_absurd_resource_ids_are_refused() {
        let big = "x".repeat(MAX_METADATA_BYTES);
        let v = parse(json!({"event_type": "POST_UPDATE", "metadata": {"k": big}}))
            .expect_err("too big");
        assert_eq!(v[0].field, "metadata");
        let v = parse(json!({"event_type": "POST_UPDATE", "event_resource_id": "a/../b"}))
            .expect_err("bad token");
        assert_eq!(v[0].field, "event_resource_id");
    }

    #[test]
    fn a_missing_event_type_is_required() {
        let v = parse(json!({})).expect_err("missing");
        assert_eq!(v[0].description, "required");
    }
}

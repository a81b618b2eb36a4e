//! The OpenAPI 3 document, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, events, feed, ingest, oauth, send};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kenar-events",
        description = "Kenar-compatible Events API, and the administration API of the platform side."
    ),
    paths(
        events::register_subscription,
        admin::create_app,
        admin::list_apps,
        admin::get_app,
        admin::update_app,
        admin::list_subscriptions,
        admin::create_key,
        admin::list_keys,
        admin::revoke_key,
        admin::create_user,
        admin::get_user,
        admin::create_post,
        admin::get_post,
        admin::update_post,
        admin::mint_token,
        admin::revoke_token,
        admin::list_deliveries,
        admin::get_delivery,
        admin::redeliver,
        admin::redeliver_failed,
        admin::enable_webhook,
        admin::rotate_client_secret,
        admin::stream_deliveries,
        ingest::publish,
        send::send_event,
        feed::user_feed,
        feed::post_feed,
        feed::mark_read,
        feed::press,
        oauth::authorize::authorize_get,
        oauth::authorize::authorize_post,
        oauth::token::token,
        oauth::token::revoke,
        oauth::session::login_form,
        oauth::session::login_submit,
        oauth::session::connected_apps,
        oauth::session::revoke_app,
        super::healthz,
        super::readyz,
        super::metrics,
        document,
    ),
    modifiers(&Security),
    tags(
        (name = "events", description = "Kenar's public Events API (contract part 1)"),
        (name = "admin", description = "Administration: apps, keys, users, posts, tokens, deliveries"),
        (name = "platform", description = "The platform's ingestion API (contract 3.3)"),
        (name = "oauth", description = "The built-in OAuth2 authorization server (contract 3.2)"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "platform",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3 document", content_type = "application/json")))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

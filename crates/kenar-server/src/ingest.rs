//! Ingestion (contract 3.3): parse each item on its own, route it, and write the events with
//! the deliveries they cause in one transaction, before answering.

use std::collections::HashMap;

use kenar_wire::platform::{IngestEvent, IngestResult};
use kenar_wire::status::{Code, Status};
use kenar_wire::webhook::{UserAccessRevocation, Webhook, WebhookPayload};
use serde_json::{Map, Value};

use crate::domain::pseudonym::PseudonymKey;
use crate::domain::{ScopeName, UserId};
use crate::metrics::Metrics;
use crate::store::{IngestTx, RoutedApp, Store, StoreResult};

/// Largest batch one ingestion call takes.
pub const MAX_BATCH: usize = 1000;

/// One webhook an event causes.
struct Target {
    app_id: i64,
    body: String,
}

/// What ingestion needs besides the store.
pub struct Ingestor<'a> {
    pub store: &'a Store,
    pub pseudonyms: &'a PseudonymKey,
    pub metrics: &'a Metrics,
}

impl Ingestor<'_> {
    /// Ingests `items`; one result per item, in order. Accepted events are durable when this
    /// returns.
    pub async fn ingest(&self, items: &[Value], now: i64) -> StoreResult<Vec<IngestResult>> {
        let mut tx = self.store.begin_ingest().await?;
        let mut router = Router {
            tx: &mut tx,
            pseudonyms: self.pseudonyms,
            apps: HashMap::new(),
            now,
        };
        let mut results = Vec::with_capacity(items.len());
        let mut accepted = Vec::new();
        for item in items {
            let event = match IngestEvent::from_value(item) {
                Ok(e) => e,
                Err(violations) => {
                    results.push(IngestResult::invalid(violations));
                    continue;
                }
            };
            let targets = match router.route(&event).await? {
                Ok(t) => t,
                Err(error) => {
                    results.push(IngestResult::Rejected { error });
                    continue;
                }
            };
            let kind = event.webhook_type().as_str();
            let payload = serde_json::to_string(&event).unwrap_or_default();
            let event_id = router.tx.insert_event(kind, &payload, now).await?;
            for t in &targets {
                router
                    .tx
                    .insert_delivery(event_id, t.app_id, kind, &t.body, now)
                    .await?;
            }
            tracing::debug!(event_id, kind, deliveries = targets.len(), "event ingested");
            accepted.push(kind);
            results.push(IngestResult::Accepted {
                event_id: format!("evt_{event_id}"),
            });
        }
        tx.commit().await?;
        for kind in accepted {
            self.metrics
                .ingested
                .get_or_create(&vec![("type", kind)])
                .inc();
        }
        Ok(results)
    }
}

/// Routing of one batch, inside its transaction.
struct Router<'t> {
    tx: &'t mut IngestTx,
    pseudonyms: &'t PseudonymKey,
    /// Apps by slug, looked up once per batch.
    apps: HashMap<String, Option<RoutedApp>>,
    now: i64,
}

fn render(metadata: Option<&str>, payload: WebhookPayload) -> String {
    let metadata: Option<Map<String, Value>> = metadata.and_then(|m| serde_json::from_str(m).ok());
    serde_json::to_string(&Webhook { metadata, payload }).unwrap_or_default()
}

impl Router<'_> {
    async fn app(&mut self, slug: &str) -> StoreResult<Result<RoutedApp, Status>> {
        if !self.apps.contains_key(slug) {
            let app = self.tx.app(slug).await?;
            self.apps.insert(slug.to_owned(), app);
        }
        Ok(self
            .apps
            .get(slug)
            .copied()
            .flatten()
            .ok_or_else(|| Status::new(Code::NotFound, format!("app {slug:?} not found"))))
    }

    /// The post's owner: as given, or as the platform's post updates said.
    async fn owner(
        &mut self,
        post: &str,
        given: Option<&str>,
    ) -> StoreResult<Result<String, Status>> {
        if let Some(owner) = given {
            return Ok(Ok(owner.to_owned()));
        }
        Ok(self.tx.post_owner(post).await?.ok_or_else(|| {
            Status::new(
                Code::FailedPrecondition,
                format!(
                    "the owner of post {post:?} is not known: give it in this event, or publish \
                     a post_update with owner_id first"
                ),
            )
        }))
    }

    /// Subscribers' webhooks, one per app; a post's own subscription wins over an all-posts
    /// one (its metadata is the one sent).
    async fn subscribed(
        &mut self,
        owner: &str,
        event_type: &str,
        post: &str,
        payload: impl Fn() -> WebhookPayload,
    ) -> StoreResult<Vec<Target>> {
        let mut subs = self
            .tx
            .subscribers(owner, event_type, post, self.now)
            .await?;
        subs.sort_by_key(|s| (s.app_id, s.resource.is_empty()));
        subs.dedup_by_key(|s| s.app_id);
        Ok(subs
            .into_iter()
            .map(|s| Target {
                app_id: s.app_id,
                body: render(s.metadata.as_deref(), payload()),
            })
            .collect())
    }

    async fn route(&mut self, event: &IngestEvent) -> StoreResult<Result<Vec<Target>, Status>> {
        match event {
            IngestEvent::NewMessage {
                message,
                post_owner_id,
            } => {
                let post = message.conversation.post_token.clone().unwrap_or_default();
                let owner = match self.owner(&post, post_owner_id.as_deref()).await? {
                    Ok(o) => o,
                    Err(e) => return Ok(Err(e)),
                };
                let payload = || WebhookPayload::NewMessage(message.clone());
                Ok(Ok(self
                    .subscribed(&owner, "NEW_MESSAGE_ON_POST", &post, payload)
                    .await?))
            }
            IngestEvent::PostUpdate { update, owner_id } => {
                let post = update.post.token.clone();
                if let Some(owner) = owner_id {
                    self.tx.set_post_owner(&post, owner, self.now).await?;
                }
                let owner = match self.owner(&post, owner_id.as_deref()).await? {
                    Ok(o) => o,
                    Err(e) => return Ok(Err(e)),
                };
                let payload = || WebhookPayload::PostUpdate(update.clone());
                Ok(Ok(self
                    .subscribed(&owner, "POST_UPDATE", &post, payload)
                    .await?))
            }
            IngestEvent::NewChatbotMessage {
                message, app_slug, ..
            } => {
                let payload = WebhookPayload::NewChatbotMessage(message.clone());
                Ok(self.app(app_slug).await?.map(|app| direct(app, payload)))
            }
            IngestEvent::PaymentTransaction {
                transaction,
                app_slug,
            } => {
                let payload = WebhookPayload::PaymentTransaction(transaction.clone());
                Ok(self.app(app_slug).await?.map(|app| direct(app, payload)))
            }
            IngestEvent::UserAccessRevocation { app_slug, user_id } => {
                let app = match self.app(app_slug).await? {
                    Ok(a) => a,
                    Err(e) => return Ok(Err(e)),
                };
                let user = match UserId::parse(user_id) {
                    Ok(u) => u,
                    Err(e) => {
                        return Ok(Err(Status::new(
                            Code::InvalidArgument,
                            format!("user_id: {e}"),
                        )))
                    }
                };
                // The user's grants to the app end here, and with them its tokens and the
                // subscriptions those registered.
                let grants = self
                    .tx
                    .revoke_grants(app.id, user.as_str(), self.now)
                    .await?;
                let notify = grants.iter().any(|s| {
                    s.has_global(ScopeName::NotificationAccessRevocation)
                        && s.has_global(ScopeName::UserId)
                });
                if !notify {
                    return Ok(Ok(Vec::new()));
                }
                let payload = WebhookPayload::UserAccessRevocation(UserAccessRevocation {
                    user_id: self.pseudonyms.user_id_for_app(app.id, &user),
                });
                Ok(Ok(direct(app, payload)))
            }
        }
    }
}

/// A webhook to one app regardless of subscriptions; none when it has no webhook URL.
fn direct(app: RoutedApp, payload: WebhookPayload) -> Vec<Target> {
    if !app.has_webhook {
        return Vec::new();
    }
    vec![Target {
        app_id: app.id,
        body: render(None, payload),
    }]
}

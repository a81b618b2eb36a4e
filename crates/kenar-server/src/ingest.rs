//! Ingestion (contract 3.3): parse each item on its own, route the batch, and write the events
//! with the deliveries they cause in one transaction, before answering.
//!
//! Routing works on the whole batch with one or two statements (owners of every post named
//! with the subscribers of every owner it can arrive at; apps of every slug named), then
//! replays the items in order in memory, so that a post update earlier in a batch decides who
//! owns the post for a message later in it, and a revocation earlier in it ends what it ends
//! for the items after it.

use std::collections::{HashMap, HashSet};

use kenar_wire::platform::{IngestEvent, IngestResult, SerializedEvent};
use kenar_wire::status::{Code, FieldViolation, Status};
use kenar_wire::webhook::{SerializedPayload, UserAccessRevocation, WebhookPayload};
use serde_json::{Map, Value};

use crate::delivery::Handoff;
use crate::domain::pseudonym::PseudonymKey;
use crate::domain::{ScopeName, UserId};
use crate::group::{GroupCommit, GroupFailed, Pacing};
use crate::metrics::Metrics;
use crate::store::{ClaimedDelivery, NewDelivery, RoutedApp, Store, StoreResult, Subscriber};

/// Largest batch one ingestion call takes.
pub const MAX_BATCH: usize = 1000;

/// What ingestion needs besides the store.
pub struct Ingestor<'a> {
    pub store: &'a Store,
    pub pseudonyms: &'a PseudonymKey,
    pub metrics: &'a Metrics,
    pub handoff: &'a Handoff,
}

/// Where an event goes, once the facts it depends on are known.
enum Plan {
    /// To the owner's subscribers of `event_type` on `post` (or on all their posts).
    Subscribers {
        event_type: &'static str,
        owner: String,
        post: String,
    },
    /// To one app, without subscription (none when it has no webhook URL).
    Direct(RoutedApp),
    /// A revocation: the grants end here; the app is told if a grant asked to be.
    Revocation { app: RoutedApp, user: UserId },
}

/// An event routed: its slot in the batch, its type, its stored form, and its webhooks.
struct Routed<'a> {
    index: usize,
    kind: &'static str,
    stored: &'a str,
    targets: Vec<Target>,
}

/// A valid item: its slot in the batch, the event, and its stored form and payload.
struct Valid {
    index: usize,
    event: IngestEvent,
    serialized: SerializedEvent,
}

struct Target {
    app_id: i64,
    /// Whether the app's endpoint is enabled (a disabled one's deliveries wait in the store).
    enabled: bool,
    body: String,
}

/// The payload of a revocation's webhook: the user as the app knows them.
fn revocation_payload(user_id: String) -> SerializedPayload {
    SerializedPayload::new(&WebhookPayload::UserAccessRevocation(
        UserAccessRevocation { user_id },
    ))
}

fn post_of(event: &IngestEvent) -> Option<&str> {
    match event {
        IngestEvent::NewMessage { message, .. } => message.conversation.post_token.as_deref(),
        IngestEvent::PostUpdate { update, .. } => Some(&update.post.token),
        _ => None,
    }
}

fn app_of(event: &IngestEvent) -> Option<&str> {
    match event {
        IngestEvent::NewChatbotMessage { app_slug, .. }
        | IngestEvent::PaymentTransaction { app_slug, .. }
        | IngestEvent::UserAccessRevocation { app_slug, .. } => Some(app_slug),
        _ => None,
    }
}

/// The post owner an item names itself, if any.
fn owner_named(event: &IngestEvent) -> Option<&str> {
    match event {
        IngestEvent::NewMessage { post_owner_id, .. } => post_owner_id.as_deref(),
        IngestEvent::PostUpdate { owner_id, .. } => owner_id.as_deref(),
        _ => None,
    }
}

fn unknown_owner(post: &str) -> Status {
    Status::new(
        Code::FailedPrecondition,
        format!(
            "the owner of post {post:?} is not known: give it in this event, or publish a \
             post_update with owner_id first"
        ),
    )
}

impl Ingestor<'_> {
    /// Ingests `items`; one result per item, in order. Accepted events are durable when this
    /// returns.
    pub async fn ingest(&self, items: Vec<Parsed>, now: i64) -> StoreResult<Vec<IngestResult>> {
        let mut results: Vec<Option<IngestResult>> = vec![None; items.len()];
        let mut events = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            match item.0 {
                Ok((event, serialized)) => events.push(Valid {
                    index,
                    event,
                    serialized,
                }),
                Err(violations) => results[index] = Some(IngestResult::invalid(violations)),
            }
        }

        // A revocation must not commit without the events of its batch.
        let atomic = events
            .iter()
            .any(|v| matches!(v.event, IngestEvent::UserAccessRevocation { .. }));
        let mut tx = self.store.begin_ingest(atomic).await?;
        let posts: Vec<&str> = dedup(events.iter().filter_map(|v| post_of(&v.event)));
        let slugs: Vec<&str> = dedup(events.iter().filter_map(|v| app_of(&v.event)));
        let named: Vec<&str> = dedup(events.iter().filter_map(|v| owner_named(&v.event)));
        // Every owner the replay can find is named in the batch or recorded for one of its
        // posts, so the subscribers of those are all it can need.
        let (mut owners, mut found) = tx.routing_facts(&posts, &named, now).await?;
        let apps = tx.apps(&slugs).await?;
        for s in &mut found {
            // Metadata goes into each webhook as stored, so it is checked here, once per
            // subscription, to be a JSON object (what registration stores).
            s.metadata = s
                .metadata
                .take()
                .filter(|m| serde_json::from_str::<Map<String, Value>>(m).is_ok());
        }
        // By (event type, user).
        let mut subscribers: HashMap<(&str, &str), Vec<&Subscriber>> = HashMap::new();
        for s in &found {
            subscribers
                .entry((s.event_type.as_str(), s.user_id.as_str()))
                .or_default()
                .push(s);
        }

        // Replay the batch in order: ownership as the post updates say, apps by slug.
        let mut plans: Vec<(&Valid, Plan)> = Vec::with_capacity(events.len());
        let mut owner_changes: HashMap<&str, &str> = HashMap::new();
        for valid in &events {
            let event = &valid.event;
            let plan = match event {
                IngestEvent::NewMessage { post_owner_id, .. } => {
                    let post = post_of(event).unwrap_or_default();
                    match post_owner_id.clone().or_else(|| owners.get(post).cloned()) {
                        Some(owner) => Ok(Plan::Subscribers {
                            event_type: "NEW_MESSAGE_ON_POST",
                            owner,
                            post: post.to_owned(),
                        }),
                        None => Err(unknown_owner(post)),
                    }
                }
                IngestEvent::PostUpdate { update, owner_id } => {
                    let post = update.post.token.as_str();
                    if let Some(owner) = owner_id {
                        owners.insert(post.to_owned(), owner.clone());
                        owner_changes.insert(post, owner);
                    }
                    match owners.get(post) {
                        Some(owner) => Ok(Plan::Subscribers {
                            event_type: "POST_UPDATE",
                            owner: owner.clone(),
                            post: post.to_owned(),
                        }),
                        None => Err(unknown_owner(post)),
                    }
                }
                IngestEvent::NewChatbotMessage { app_slug, .. }
                | IngestEvent::PaymentTransaction { app_slug, .. } => {
                    apps.get(app_slug).map(|a| Plan::Direct(*a)).ok_or_else(|| {
                        Status::new(Code::NotFound, format!("app {app_slug:?} not found"))
                    })
                }
                IngestEvent::UserAccessRevocation { app_slug, user_id } => {
                    match (apps.get(app_slug), UserId::parse(user_id)) {
                        (None, _) => Err(Status::new(
                            Code::NotFound,
                            format!("app {app_slug:?} not found"),
                        )),
                        (_, Err(e)) => {
                            Err(Status::new(Code::InvalidArgument, format!("user_id: {e}")))
                        }
                        (Some(app), Ok(user)) => Ok(Plan::Revocation { app: *app, user }),
                    }
                }
            };
            match plan {
                Ok(p) => plans.push((valid, p)),
                Err(error) => results[valid.index] = Some(IngestResult::Rejected { error }),
            }
        }

        // Targets, in order; revocations take effect for the items after them.
        let mut revoked: Vec<(i64, String)> = Vec::new();
        let mut rows: Vec<Routed> = Vec::new();
        for (valid, plan) in &plans {
            let event = &valid.event;
            let kind = event.webhook_type().as_str();
            let targets = match plan {
                Plan::Subscribers {
                    event_type,
                    owner,
                    post,
                } => {
                    let mut matched: Vec<&Subscriber> = subscribers
                        .get(&(*event_type, owner.as_str()))
                        .map(|v| {
                            v.iter()
                                .copied()
                                .filter(|s| s.resource.is_empty() || s.resource == *post)
                                .filter(|s| {
                                    !revoked.iter().any(|(a, u)| *a == s.app_id && u == owner)
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    // One webhook per app; the post's own subscription wins (its metadata).
                    matched.sort_by_key(|s| (s.app_id, s.resource.is_empty()));
                    matched.dedup_by_key(|s| s.app_id);
                    match &valid.serialized.payload {
                        Some(payload) => matched
                            .into_iter()
                            .map(|s| Target {
                                app_id: s.app_id,
                                enabled: s.endpoint_enabled,
                                body: payload.webhook(s.metadata.as_deref()),
                            })
                            .collect(),
                        None => Vec::new(),
                    }
                }
                Plan::Direct(app) if app.has_webhook => match &valid.serialized.payload {
                    Some(payload) => vec![Target {
                        app_id: app.id,
                        enabled: app.endpoint_enabled,
                        body: payload.webhook(None),
                    }],
                    None => Vec::new(),
                },
                Plan::Direct(_) => Vec::new(),
                Plan::Revocation { app, user } => {
                    let grants = tx.revoke_grants(app.id, user.as_str(), now).await?;
                    revoked.push((app.id, user.as_str().to_owned()));
                    let notify = app.has_webhook
                        && grants.iter().any(|s| {
                            s.has_global(ScopeName::NotificationAccessRevocation)
                                && s.has_global(ScopeName::UserId)
                        });
                    if notify {
                        let pseudonym = self.pseudonyms.user_id_for_app(app.id, user);
                        vec![Target {
                            app_id: app.id,
                            enabled: app.endpoint_enabled,
                            body: revocation_payload(pseudonym).webhook(None),
                        }]
                    } else {
                        Vec::new()
                    }
                }
            };
            rows.push(Routed {
                index: valid.index,
                kind,
                stored: &valid.serialized.stored,
                targets,
            });
        }

        let event_rows: Vec<(&str, &str)> = rows.iter().map(|r| (r.kind, r.stored)).collect();
        // Deliveries this process can start at once are written leased to it.
        let taken = self.handoff.begin(now);
        let mut deliveries = Vec::new();
        let mut enabled = Vec::new();
        for (event, r) in rows.iter_mut().enumerate() {
            for t in r.targets.drain(..) {
                let lease = taken
                    .as_ref()
                    .filter(|h| t.enabled && h.take(t.app_id))
                    .map(|h| (h.owner(), h.lease_until()));
                enabled.push(t.enabled);
                deliveries.push(NewDelivery {
                    event,
                    app_id: t.app_id,
                    event_type: r.kind,
                    body: t.body,
                    lease,
                });
            }
        }
        let changes: Vec<(&str, &str)> = owner_changes.into_iter().collect();
        let written = tx.write(&changes, &event_rows, &deliveries, now).await;
        let delivery_ids = match written {
            Ok((event_ids, delivery_ids)) => {
                for (r, id) in rows.iter().zip(event_ids) {
                    results[r.index] = Some(IngestResult::Accepted {
                        event_id: format!("evt_{id}"),
                    });
                }
                delivery_ids
            }
            Err(e) => {
                if let Some(h) = &taken {
                    h.give_back(
                        deliveries
                            .iter()
                            .filter(|d| d.lease.is_some())
                            .map(|d| d.app_id),
                    );
                }
                return Err(e);
            }
        };
        if let Some(h) = &taken {
            let mut fresh = Vec::new();
            let mut left = Vec::new();
            for ((d, enabled), id) in deliveries.into_iter().zip(enabled).zip(delivery_ids) {
                if d.lease.is_some() {
                    fresh.push(ClaimedDelivery {
                        id,
                        app_id: d.app_id,
                        event_type: d.event_type.to_owned(),
                        body: d.body,
                        attempts: 0,
                        schedule_step: 0,
                    });
                } else if enabled && !left.contains(&d.app_id) {
                    left.push(d.app_id);
                }
            }
            if !fresh.is_empty() {
                h.hand_over(fresh);
            }
            for app_id in left {
                h.left_in_store(app_id);
            }
        }
        // One counter update per event type in the batch, not per event.
        let mut per_kind: Vec<(&'static str, u64)> = Vec::new();
        for r in &rows {
            match per_kind.iter_mut().find(|(kind, _)| *kind == r.kind) {
                Some((_, n)) => *n += 1,
                None => per_kind.push((r.kind, 1)),
            }
        }
        for (kind, n) in per_kind {
            self.metrics
                .ingested
                .get_or_create(&vec![("type", kind)])
                .inc_by(n);
        }
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| IngestResult::Rejected {
                    error: Status::new(Code::Internal, "item was not processed"),
                })
            })
            .collect())
    }
}

/// The distinct values, in first-seen order.
fn dedup<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    values.filter(|v| seen.insert(*v)).collect()
}

/// An item parsed in the caller's task, before it joins a group, so that the group's writer
/// (one at a time) does only what needs the store: the event with its stored form and
/// payload, each serialized once, or why it is invalid.
#[derive(Debug)]
pub struct Parsed(Result<(IngestEvent, SerializedEvent), Vec<FieldViolation>>);

impl Parsed {
    pub fn new(item: &Value) -> Parsed {
        Parsed(IngestEvent::from_value(item).map(|event| {
            let serialized = event.serialize_once();
            (event, serialized)
        }))
    }
}

/// Group commit of ingestion calls: concurrent calls are written together, in one transaction
/// (one fsync); each call gets its own items' results.
#[derive(Debug, Clone)]
pub struct IngestQueue(GroupCommit<Vec<Parsed>, Vec<IngestResult>>);

/// Items one group commit takes at most (several calls' batches together).
pub(crate) const GROUP_MAX_ITEMS: usize = 4 * MAX_BATCH;

impl IngestQueue {
    /// Starts the writer task; it runs until every queue handle is dropped.
    pub fn start(
        store: Store,
        pseudonyms: PseudonymKey,
        metrics: std::sync::Arc<Metrics>,
        handoff: Handoff,
    ) -> IngestQueue {
        let write = move |calls: Vec<Vec<Parsed>>| {
            let (store, pseudonyms, metrics, handoff) = (
                store.clone(),
                pseudonyms.clone(),
                std::sync::Arc::clone(&metrics),
                handoff.clone(),
            );
            async move {
                let counts: Vec<usize> = calls.iter().map(Vec::len).collect();
                let all: Vec<Parsed> = calls.into_iter().flatten().collect();
                let ingestor = Ingestor {
                    store: &store,
                    pseudonyms: &pseudonyms,
                    metrics: &metrics,
                    handoff: &handoff,
                };
                let mut results = ingestor
                    .ingest(all, crate::domain::time::now_ms())
                    .await?
                    .into_iter();
                Ok(counts
                    .into_iter()
                    .map(|n| results.by_ref().take(n).collect())
                    .collect())
            }
        };
        IngestQueue(GroupCommit::start(
            Pacing::Eager,
            GROUP_MAX_ITEMS,
            Vec::len,
            write,
        ))
    }

    /// Ingests `items` with whatever else is waiting; returns this call's results.
    pub async fn ingest(&self, items: Vec<Value>) -> Result<Vec<IngestResult>, GroupFailed> {
        let parsed = items.iter().map(Parsed::new).collect();
        drop(items);
        self.0.write(parsed).await
    }
}

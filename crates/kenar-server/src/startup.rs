//! Building and running the application: what `serve`, `dev` and the tests all start.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Settings;
use crate::delivery::{self, DeliveryConfig, Handoff, Wake};
use crate::domain::url::PrivateTargets;
use crate::http::state::{AppState, Context};
use crate::ingest::IngestQueue;
use crate::introspection::Introspector;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

/// How long an app's dynamic-action endpoint gets to answer a button press.
pub const DYNAMIC_ACTION_TIMEOUT: Duration = Duration::from_secs(5);

/// How long in-flight requests get to finish after shutdown is asked for.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("could not open the database")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Client(delivery::sender::BuildError),
    #[error("could not listen on {0}")]
    Bind(String, #[source] std::io::Error),
}

/// A server ready to run: storage open and migrated, socket bound.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    /// `None` when this process does not deliver.
    delivery: Option<DeliveryConfig>,
    /// Where ingestion hands fresh deliveries to this process's engine.
    handoff: Handoff,
}

impl Application {
    pub async fn build(settings: &Settings) -> Result<Application, StartupError> {
        let store = Store::open(&settings.database).await?;
        let pseudonyms = store.pseudonym_key().await?;
        let listener = TcpListener::bind(&settings.listen)
            .await
            .map_err(|e| StartupError::Bind(settings.listen.clone(), e))?;
        let metrics = Arc::new(Metrics::default());
        let handoff = Handoff::default();
        let ingest = IngestQueue::start(
            store.clone(),
            pseudonyms.clone(),
            Arc::clone(&metrics),
            handoff.clone(),
        );
        let state = Arc::new(Context {
            store: store.clone(),
            pseudonyms,
            admin_token: settings.admin_token.value.clone(),
            platform_token: settings.platform_token.value.clone(),
            private_targets: settings.private_targets,
            metrics,
            wake: Wake::default(),
            default_limits: settings.default_limits,
            rates: Arc::new(crate::rate::RateCounter::new(store.clone())),
            subscriptions: {
                let store = store.clone();
                crate::group::GroupCommit::start(
                    crate::group::Pacing::ForReturningCallers,
                    256,
                    |_| 1,
                    move |subs| {
                        let store = store.clone();
                        async move {
                            store.upsert_subscriptions(&subs).await?;
                            Ok(vec![(); subs.len()])
                        }
                    },
                )
            },
            outbound: delivery::sender::outbound_client(
                DYNAMIC_ACTION_TIMEOUT,
                4,
                settings.private_targets,
            )
            .map_err(StartupError::Client)?,
            oauth: settings.oauth,
            introspector: match &settings.introspection {
                Some(config) => Some(Introspector::new(
                    config.clone(),
                    delivery::sender::outbound_client(
                        Duration::from_secs(5),
                        16,
                        PrivateTargets::Allow,
                    )
                    .map_err(StartupError::Client)?,
                )),
                None => None,
            },
            stopping: CancellationToken::new(),
            ingest,
        });
        Ok(Application {
            listener,
            state,
            handoff,
            delivery: settings.deliver.then(|| settings.delivery.clone()),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves (and delivers) until `shutdown` completes; then stops taking requests and
    /// claiming deliveries, lets in-flight requests and deliveries finish and their outcomes be
    /// recorded (for at most [`SHUTDOWN_GRACE`] each), and closes the database. Deliveries cut
    /// off keep their leases, which expire and make them due again.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let store = self.state.store.clone();
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        if let Some(config) = self.delivery {
            delivery::start(
                store.clone(),
                config,
                Arc::clone(&self.state.metrics),
                self.state.wake.clone(),
                &self.handoff,
                cancel.clone(),
                &tracker,
            );
        }
        tracker.spawn(prune_rate_counters(store.clone(), cancel.clone()));
        tracker.spawn(crate::rate::flush_periodically(
            Arc::clone(&self.state.rates),
            cancel.clone(),
        ));
        tracker.close();
        let stopping = self.state.stopping.clone();
        let app = axum::ServiceExt::into_make_service(crate::http::app(self.state));
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(self.listener, app).with_graceful_shutdown(async move {
            shutdown.await;
            stopping.cancel();
            let _ = stopping_tx.send(());
        });
        let mut server = std::pin::pin!(server.into_future());
        let result = tokio::select! {
            r = &mut server => r,
            _ = async {
                let _ = stopping_rx.await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => {
                tracing::warn!("in-flight requests did not finish in time; stopping anyway");
                Ok(())
            }
        };
        cancel.cancel();
        if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("deliveries in flight did not finish in time; their leases will expire");
        }
        store.close().await;
        result
    }
}

/// Forgets rate-limit windows older than two days, every ten minutes.
async fn prune_rate_counters(store: Store, cancel: CancellationToken) {
    loop {
        let before = crate::domain::time::now_ms() - 2 * crate::domain::limits::DAY_MS;
        if let Err(e) = store.prune_rate_counters(before).await {
            tracing::warn!(error = %e, "pruning rate counters failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
            _ = cancel.cancelled() => return,
        }
    }
}

/// Completes on SIGINT or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled, so a signal that arrives while the server is still starting is
/// not lost (nor does it kill the process ungracefully).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        {
            match signals {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                (Err(e), _) | (_, Err(e)) => {
                    tracing::error!(error = %e, "cannot listen for SIGINT/SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        tracing::info!("shutting down");
    }
}

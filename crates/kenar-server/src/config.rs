//! Settings of a server process, from defaults, environment and flags (clap reads the last two
//! in that order of precedence), validated once.

use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::delivery::DeliveryConfig;
use crate::domain::credentials::random_token;
use crate::domain::limits::Limits;
use crate::domain::retry::RetrySchedule;
use crate::domain::url::PrivateTargets;
use crate::domain::Secret;
use crate::http::oauth::OAuthConfig;
use crate::introspection::IntrospectionConfig;
use crate::store::DatabaseUrl;

/// The flags `serve` and `dev` share.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address and port to listen on (port 0 picks a free one).
    #[arg(long, env = "KENAR_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Database: a SQLite file path (created with its directory on first start), a `sqlite:`
    /// URL, or a `postgres://` URL for several server processes sharing one database.
    #[arg(
        long,
        env = "KENAR_DATABASE_URL",
        default_value = "kenar-data/kenar.db"
    )]
    pub database: DatabaseUrl,

    /// Token guarding the administration API. When not given, one is generated for this run
    /// and printed once.
    #[arg(long, env = "KENAR_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,

    /// Token the platform uses to publish events to the ingestion API. When not given, one is
    /// generated for this run and printed once.
    #[arg(long, env = "KENAR_PLATFORM_TOKEN", hide_env_values = true)]
    pub platform_token: Option<Secret>,

    /// Allow webhook and dynamic-action URLs on loopback and private addresses (off by
    /// default, as a guard against server-side request forgery; `dev` turns it on).
    #[arg(long, env = "KENAR_ALLOW_PRIVATE_TARGETS")]
    pub allow_private_targets: bool,

    /// Delays between delivery attempts (the first attempt is immediate); after the last one
    /// a delivery is marked failed.
    #[arg(
        long,
        env = "KENAR_RETRY_SCHEDULE",
        default_value = "5s,5m,30m,2h,5h,10h,10h"
    )]
    pub retry_schedule: RetrySchedule,

    /// Timeout of one webhook request, connecting included.
    #[arg(long, env = "KENAR_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub webhook_timeout: Duration,

    /// Webhook requests in flight to one app's endpoint at most.
    #[arg(long, env = "KENAR_ENDPOINT_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub endpoint_concurrency: u16,

    /// Webhook requests in flight in this process at most; it holds sixteen times as many
    /// deliveries in memory at most, queued for their endpoints.
    #[arg(long, env = "KENAR_MAX_IN_FLIGHT", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_in_flight: u32,

    /// Disable an app's endpoint after it has failed for this long without a success.
    #[arg(long, env = "KENAR_DISABLE_AFTER", default_value = "5days", value_parser = humantime::parse_duration)]
    pub disable_after: Duration,

    /// How often an idle worker looks for due retries and for events other processes took in.
    #[arg(long, env = "KENAR_POLL_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub poll_interval: Duration,

    /// Public API calls an app may make per minute, unless its settings say otherwise.
    #[arg(long, env = "KENAR_RATE_LIMIT_PER_MINUTE", default_value_t = 6000)]
    pub rate_limit_per_minute: i64,

    /// Public API calls an app may make per UTC day, unless its settings say otherwise.
    #[arg(long, env = "KENAR_DAILY_QUOTA", default_value_t = 1_000_000)]
    pub daily_quota: i64,

    /// Lifetime of access tokens the built-in authorization server issues.
    #[arg(long, env = "KENAR_ACCESS_TOKEN_TTL", default_value = "1h", value_parser = humantime::parse_duration)]
    pub access_token_ttl: Duration,

    /// Validate access tokens by RFC 7662 introspection at this URL instead of with the
    /// built-in authorization server.
    #[arg(long, env = "KENAR_INTROSPECTION_URL")]
    pub introspection_url: Option<String>,

    /// Client id this server authenticates to the introspection endpoint with.
    #[arg(
        long,
        env = "KENAR_INTROSPECTION_CLIENT_ID",
        default_value = "kenar-events"
    )]
    pub introspection_client_id: String,

    /// Client secret for the introspection endpoint.
    #[arg(
        long,
        env = "KENAR_INTROSPECTION_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub introspection_client_secret: Option<Secret>,

    /// How long a positive introspection answer is trusted.
    #[arg(long, env = "KENAR_INTROSPECTION_CACHE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub introspection_cache: Duration,

    /// Serve the API only and deliver nothing (for a scale-out with dedicated workers).
    #[arg(long, env = "KENAR_NO_DELIVERY")]
    pub no_delivery: bool,

    /// Log format on standard error.
    #[arg(long, env = "KENAR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// A credential and whether this process made it up (and so must show it once).
#[derive(Debug, Clone)]
pub struct Credential {
    pub value: Secret,
    pub generated: bool,
}

impl Credential {
    fn given_or_generated(given: Option<Secret>, prefix: &str) -> Credential {
        match given.filter(|s| !s.expose().is_empty()) {
            Some(value) => Credential {
                value,
                generated: false,
            },
            None => Credential {
                value: random_token(prefix),
                generated: true,
            },
        }
    }
}

/// Everything a server process needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: String,
    pub database: DatabaseUrl,
    pub admin_token: Credential,
    pub platform_token: Credential,
    pub private_targets: PrivateTargets,
    pub delivery: DeliveryConfig,
    /// Whether this process runs the delivery engine.
    pub deliver: bool,
    pub default_limits: Limits,
    pub oauth: OAuthConfig,
    pub introspection: Option<IntrospectionConfig>,
}

impl Settings {
    pub fn from_args(args: &ServerArgs) -> Settings {
        let private_targets = if args.allow_private_targets {
            PrivateTargets::Allow
        } else {
            PrivateTargets::Refuse
        };
        Settings {
            listen: args.listen.clone(),
            database: args.database.clone(),
            admin_token: Credential::given_or_generated(args.admin_token.clone(), "kenar_admin_"),
            platform_token: Credential::given_or_generated(
                args.platform_token.clone(),
                "kenar_platform_",
            ),
            private_targets,
            delivery: DeliveryConfig {
                schedule: args.retry_schedule.clone(),
                request_timeout: args.webhook_timeout,
                endpoint_concurrency: usize::from(args.endpoint_concurrency),
                max_in_flight: args.max_in_flight as usize,
                disable_after: args.disable_after,
                poll_interval: args.poll_interval,
                private_targets,
            },
            deliver: !args.no_delivery,
            default_limits: Limits {
                per_minute: args.rate_limit_per_minute,
                per_day: args.daily_quota,
            },
            oauth: OAuthConfig {
                access_token_ttl: args.access_token_ttl,
                ..OAuthConfig::default()
            },
            introspection: args
                .introspection_url
                .as_ref()
                .map(|url| IntrospectionConfig {
                    url: url.clone(),
                    client_id: args.introspection_client_id.clone(),
                    client_secret: args
                        .introspection_client_secret
                        .clone()
                        .unwrap_or_else(|| Secret::new("")),
                    cache_ttl: args.introspection_cache,
                }),
        }
    }

    /// Settings for tests and embedding: the given database, a free port on loopback, fixed
    /// tokens, private targets allowed.
    pub fn for_tests(database: DatabaseUrl) -> Settings {
        Settings {
            listen: "127.0.0.1:0".into(),
            database,
            admin_token: Credential {
                value: Secret::new("test-admin-token"),
                generated: false,
            },
            platform_token: Credential {
                value: Secret::new("test-platform-token"),
                generated: false,
            },
            private_targets: PrivateTargets::Allow,
            delivery: DeliveryConfig {
                schedule: RetrySchedule::new(vec![Duration::from_millis(100); 3]),
                request_timeout: Duration::from_secs(5),
                poll_interval: Duration::from_millis(50),
                private_targets: PrivateTargets::Allow,
                ..DeliveryConfig::default()
            },
            deliver: true,
            default_limits: Limits {
                per_minute: 1_000_000,
                per_day: 100_000_000,
            },
            oauth: OAuthConfig::default(),
            introspection: None,
        }
    }
}

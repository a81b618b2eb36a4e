//! Settings of a server process, from defaults, environment and flags (clap reads the last two
//! in that order of precedence), validated once.

use clap::{Args, ValueEnum};

use crate::domain::credentials::random_token;
use crate::domain::url::PrivateTargets;
use crate::domain::Secret;
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
}

impl Settings {
    pub fn from_args(args: &ServerArgs) -> Settings {
        Settings {
            listen: args.listen.clone(),
            database: args.database.clone(),
            admin_token: Credential::given_or_generated(args.admin_token.clone(), "kenar_admin_"),
            platform_token: Credential::given_or_generated(
                args.platform_token.clone(),
                "kenar_platform_",
            ),
            private_targets: if args.allow_private_targets {
                PrivateTargets::Allow
            } else {
                PrivateTargets::Refuse
            },
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
        }
    }
}

//! What can go wrong, and how each failure reaches the user: its message and the exit code.

use kenar_wire::status::Status;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server answered with an error status and (usually) a `google.rpc.Status` body.
    #[error("HTTP {http_status} {}: {}", .status.code.name(), .status.message)]
    Api {
        /// The HTTP status of the answer.
        http_status: u16,
        /// Its body, or one made up from the HTTP status when the body was not a `Status`.
        status: Status,
    },
    /// No answer: the server could not be reached, or the connection broke.
    #[error("{0}")]
    Transport(String),
    /// The command cannot run as given: a missing setting, a malformed value, a bad profile.
    #[error("{0}")]
    Usage(String),
    /// The command ran but did not fully succeed (some published events were refused, say);
    /// the details were already printed.
    #[error("{0}")]
    Partial(String),
    /// The server answered something this tool cannot read.
    #[error("unexpected answer from the server: {0}")]
    Unexpected(String),
}

impl CliError {
    /// The process exit code: 2 for a command that cannot run as given (as clap does for a
    /// malformed command line), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }

    /// The error as one JSON document, for `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            CliError::Api {
                http_status,
                status,
            } => serde_json::json!({"http_status": http_status, "error": status}),
            other => serde_json::json!({"error": {"message": other.to_string()}}),
        }
    }

    /// A usage error.
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::Usage(message.into())
    }
}

impl From<kenar_sdk::Error> for CliError {
    fn from(e: kenar_sdk::Error) -> Self {
        match e {
            kenar_sdk::Error::Api(api) => CliError::Api {
                http_status: api.http_status(),
                status: api.status().clone(),
            },
            kenar_sdk::Error::Transport(t) => CliError::Transport(t.to_string()),
            kenar_sdk::Error::InvalidRequest(m) | kenar_sdk::Error::Config(m) => CliError::Usage(m),
            other => CliError::Unexpected(other.to_string()),
        }
    }
}

/// Describes a failed HTTP request without an answer (never its URL's credentials: none travel
/// in URLs).
pub fn describe_transport(e: &reqwest::Error, url: &str) -> String {
    let what = if e.is_connect() {
        "could not connect to"
    } else if e.is_timeout() {
        "timed out waiting for"
    } else {
        "the request failed for"
    };
    let mut message = format!("{what} {url}");
    let mut source = std::error::Error::source(e);
    // The innermost cause is the informative one ("Connection refused").
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    if let Some(cause) = last {
        message.push_str(&format!(": {cause}"));
    }
    message
}

pub type CliResult<T> = Result<T, CliError>;

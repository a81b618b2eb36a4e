//! The commands. Each module holds its arguments (clap) and what it does.

pub mod apps;
pub mod config;
pub mod deliveries;
pub mod identity;
pub mod keys;
pub mod listen;
pub mod public;
pub mod samples;
pub mod tokens;
pub mod trigger;

use reqwest::Method;
use serde_json::Value;

use crate::error::CliResult;
use crate::http::{Answer, Api};
use crate::output::Output;
use crate::settings::{Secret, Settings};

/// What every command gets: the resolved settings and where to print.
#[derive(Debug)]
pub struct Ctx {
    pub settings: Settings,
    pub out: Output,
}

impl Ctx {
    /// A client of the administration API, with the admin token.
    pub fn admin(&self) -> CliResult<Authed> {
        Ok(Authed {
            api: Api::new(self.settings.base_url())?,
            token: self.settings.admin_token()?.clone(),
        })
    }

    /// A client of the ingestion API, with the platform token.
    pub fn platform(&self) -> CliResult<Authed> {
        Ok(Authed {
            api: Api::new(self.settings.base_url())?,
            token: self.settings.platform_token()?.clone(),
        })
    }

    /// Prints an answer: its raw JSON under `--json`, else what `human` makes of it.
    pub fn show(&self, answer: &Answer, human: impl FnOnce(&Output, &Value)) {
        if self.out.json {
            self.out.raw_json(&answer.raw);
        } else {
            human(&self.out, &answer.value);
        }
    }
}

/// An API client and the bearer token its calls carry.
#[derive(Debug, Clone)]
pub struct Authed {
    pub api: Api,
    pub token: Secret,
}

impl Authed {
    pub async fn get(&self, segments: &[&str], query: &[(&str, String)]) -> CliResult<Answer> {
        self.api.get(segments, &self.token, query).await
    }

    pub async fn post(&self, segments: &[&str], body: &Value) -> CliResult<Answer> {
        self.api.post(segments, &self.token, body).await
    }

    pub async fn patch(&self, segments: &[&str], body: &Value) -> CliResult<Answer> {
        self.api
            .call(Method::PATCH, segments, &self.token, &[], Some(body))
            .await
    }

    pub async fn delete(&self, segments: &[&str]) -> CliResult<Answer> {
        self.api
            .call(Method::DELETE, segments, &self.token, &[], None)
            .await
    }
}

/// Upper-cases an enum value as users may type it (`new-message` → `NEW_MESSAGE`).
pub fn enum_value(value: &str) -> String {
    value.trim().replace('-', "_").to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    #[test]
    fn enum_values_are_normalised() {
        assert_eq!(super::enum_value("new-message"), "NEW_MESSAGE");
        assert_eq!(super::enum_value("FAILED"), "FAILED");
    }
}

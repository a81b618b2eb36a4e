//! `kenar config ...`: which settings are in force and where each came from.

use clap::Subcommand;
use serde_json::{json, Map, Value};

use super::Ctx;
use crate::error::CliResult;
use crate::output::{cell, Style, Table};
use crate::settings::{Secret, Setting, Settings};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Show every setting in force and where it came from (flag, environment, profile,
    /// default). Credentials are shown only by their first characters.
    Show {
        /// Show credentials in full.
        #[arg(long)]
        reveal: bool,
    },
    /// Print the path of the profile file in use (or the one that would be read).
    Path,
}

pub fn run(ctx: &Ctx, command: ConfigCommand) -> CliResult<()> {
    let s = &ctx.settings;
    match command {
        ConfigCommand::Show { reveal } => {
            let rows = rows(s, reveal);
            if ctx.out.json {
                let mut settings = Map::new();
                for (name, value, source) in &rows {
                    settings.insert(
                        (*name).to_owned(),
                        json!({"value": value, "source": source}),
                    );
                }
                ctx.out.json_value(&json!({
                    "profile": s.loaded.profile_name,
                    "file": s.loaded.path.as_ref().map(|p| p.display().to_string()),
                    "settings": settings,
                }));
            } else {
                let file = match &s.loaded.path {
                    Some(p) => p.display().to_string(),
                    None => "none".to_owned(),
                };
                ctx.out.line(&format!(
                    "profile {:?} (file: {file})",
                    s.loaded.profile_name
                ));
                let mut table = Table::new(&["SETTING", "VALUE", "FROM"]);
                for (name, value, source) in rows {
                    let (value, style) = match value {
                        Value::String(v) => (v, None),
                        _ => ("-".to_owned(), Some(Style::Dim)),
                    };
                    table.row(vec![
                        cell(name),
                        (value, style),
                        cell(source.unwrap_or("-")),
                    ]);
                }
                table.print(&ctx.out);
            }
        }
        ConfigCommand::Path => {
            let path = s.loaded.path.clone().or_else(|| {
                crate::settings::Home::from_env()
                    .candidates()
                    .into_iter()
                    .next()
            });
            match path {
                Some(p) if ctx.out.json => ctx.out.json_value(&json!({"path": p})),
                Some(p) => ctx.out.line(&p.display().to_string()),
                None => ctx
                    .out
                    .note("No profile file: set HOME, XDG_CONFIG_HOME or KENAR_CONFIG."),
            }
        }
    }
    Ok(())
}

type Row = (&'static str, Value, Option<&'static str>);

fn rows(s: &Settings, reveal: bool) -> Vec<Row> {
    let plain = |name, v: &Option<Setting<String>>| -> Row {
        match v {
            Some(v) => (name, json!(v.value), Some(v.source.as_str())),
            None => (name, Value::Null, None),
        }
    };
    let secret = |name, v: &Option<Setting<Secret>>| -> Row {
        match v {
            Some(v) => (
                name,
                json!(if reveal {
                    v.value.expose().to_owned()
                } else {
                    redact(v.value.expose())
                }),
                Some(v.source.as_str()),
            ),
            None => (name, Value::Null, None),
        }
    };
    vec![
        (
            "base_url",
            json!(s.base_url.value),
            Some(s.base_url.source.as_str()),
        ),
        secret("admin_token", &s.admin_token),
        secret("platform_token", &s.platform_token),
        secret("api_key", &s.api_key),
        secret("access_token", &s.access_token),
        plain("app", &s.app),
        plain("user", &s.user),
        plain("post", &s.post),
    ]
}

/// The first characters of a credential, enough to recognise it.
fn redact(secret: &str) -> String {
    let shown: String = secret.chars().take(6).collect();
    format!("{shown}…")
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_are_cut_short() {
        assert_eq!(super::redact("kenar_adm_0123456789"), "kenar_…");
    }
}

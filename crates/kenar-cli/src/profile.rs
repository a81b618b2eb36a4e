//! The profile file: where it is, and its profiles.
//!
//! The file is `--config` / `$KENAR_CONFIG`, or else the first of
//! `$XDG_CONFIG_HOME/kenar/config.toml`, `~/.config/kenar/config.toml` and the same with
//! `.json`. Each top-level table is a profile:
//!
//! ```toml
//! [default]
//! base_url = "http://127.0.0.1:8080"
//! admin_token = "..."
//!
//! [staging]
//! base_url = "https://kenar.staging.example.com"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{CliError, CliResult};
use crate::settings::{Given, Source, DEFAULT_PROFILE};

/// One profile of the profile file. Unknown keys are refused, so that a typo does not
/// silently leave a setting unset.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub access_token: Option<String>,
    pub admin_token: Option<String>,
    pub platform_token: Option<String>,
    /// The app commands act on when `--app` is not given.
    pub app: Option<String>,
    /// The platform's id of the user `trigger` and `tokens mint` use by default.
    pub user: Option<String>,
    /// The post `trigger` and `send` use by default.
    pub post: Option<String>,
}

/// The profile file that was read, and the profile chosen in it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: Option<PathBuf>,
    pub profile_name: String,
    pub profile: Profile,
}

/// The environment that locates the default profile file.
#[derive(Debug, Clone, Default)]
pub struct Home {
    pub xdg_config_home: Option<PathBuf>,
    pub home: Option<PathBuf>,
}

impl Home {
    pub fn from_env() -> Home {
        let var = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Home {
            xdg_config_home: var("XDG_CONFIG_HOME"),
            home: var("HOME"),
        }
    }

    /// The default profile files, in the order they are looked for.
    pub fn candidates(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        if let Some(x) = &self.xdg_config_home {
            dirs.push(x.join("kenar"));
        }
        if let Some(h) = &self.home {
            dirs.push(h.join(".config").join("kenar"));
        }
        let mut out = Vec::new();
        for d in dirs {
            out.push(d.join("config.toml"));
            out.push(d.join("config.json"));
        }
        out
    }
}

/// Finds and reads the profile file, and picks the profile.
pub fn load(config: &Given, profile: &Given, home: &Home) -> CliResult<Loaded> {
    let named = profile.value.clone().filter(|p| !p.is_empty());
    let profile_name = named.clone().unwrap_or_else(|| DEFAULT_PROFILE.to_owned());
    let path = match config.value.as_deref().filter(|p| !p.is_empty()) {
        Some(explicit) => {
            let path = PathBuf::from(explicit);
            if !path.is_file() {
                return Err(CliError::usage(format!(
                    "profile file {} (from {}) does not exist",
                    path.display(),
                    match config.source {
                        Some(Source::Flag) => "--config",
                        _ => "KENAR_CONFIG",
                    }
                )));
            }
            Some(path)
        }
        None => home.candidates().into_iter().find(|p| p.is_file()),
    };
    let Some(path) = path else {
        if let Some(name) = named {
            return Err(CliError::usage(format!(
                "profile {name:?} was asked for, but there is no profile file (looked for {})",
                list_paths(&home.candidates())
            )));
        }
        return Ok(Loaded {
            path: None,
            profile_name,
            profile: Profile::default(),
        });
    };
    let mut profiles = read_file(&path)?;
    let profile = match profiles.remove(&profile_name) {
        Some(p) => p,
        None if named.is_some() => {
            let known: Vec<&str> = profiles.keys().map(String::as_str).collect();
            return Err(CliError::usage(format!(
                "no profile {profile_name:?} in {} (it has: {})",
                path.display(),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        }
        None => Profile::default(),
    };
    Ok(Loaded {
        path: Some(path),
        profile_name,
        profile,
    })
}

fn list_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    if shown.is_empty() {
        "nowhere: neither HOME nor XDG_CONFIG_HOME is set".to_owned()
    } else {
        shown.join(", ")
    }
}

/// Reads a profile file: JSON when its name ends in `.json`, TOML otherwise.
pub fn read_file(path: &Path) -> CliResult<BTreeMap<String, Profile>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
    parse_profiles(&text, is_json(path))
        .map_err(|e| CliError::usage(format!("invalid profile file {}: {e}", path.display())))
}

fn is_json(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// Parses the profiles of a profile file.
pub fn parse_profiles(text: &str, json: bool) -> Result<BTreeMap<String, Profile>, String> {
    if json {
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())
    }
}

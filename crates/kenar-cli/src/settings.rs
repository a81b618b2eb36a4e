//! Settings in layers: flags, then the environment, then a profile of the profile file
//! ([`crate::profile`]), then defaults. clap merges the first two (and says which one gave a
//! value); this module fills what is still missing from the profile.

use std::fmt;

use clap::parser::ValueSource;
use clap::ArgMatches;

use crate::error::{CliError, CliResult};
use crate::profile::load;
pub use crate::profile::{Home, Loaded};

/// Where the server is when nothing says otherwise (`kenar-events serve`'s default).
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";
/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "default";

/// A credential; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The credential itself, to send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env,
    Profile,
    Default,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Env => "environment",
            Source::Profile => "profile",
            Source::Default => "default",
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

/// What clap parsed for one setting: the value and whether a flag or the environment gave it.
#[derive(Debug, Clone, Default)]
pub struct Given {
    pub value: Option<String>,
    pub source: Option<Source>,
}

impl Given {
    /// Reads argument `id` of the parsed command line (its deepest subcommand holds the
    /// propagated global arguments).
    pub fn from_matches(matches: &ArgMatches, id: &str) -> Given {
        let mut m = matches;
        while let Some((_, sub)) = m.subcommand() {
            m = sub;
        }
        // Not every command has every setting; asking for an unknown one is an error.
        let Ok(value) = m.try_get_one::<String>(id) else {
            return Given::default();
        };
        let source = match m.value_source(id) {
            Some(ValueSource::CommandLine) => Some(Source::Flag),
            Some(ValueSource::EnvVariable) => Some(Source::Env),
            _ => None,
        };
        Given {
            value: value.cloned(),
            source,
        }
    }
}

impl Given {
    /// For a setting the command has no flag for (`config show` and `user`): the variable.
    fn or_env(self, name: &str) -> Given {
        if self.value.is_some() {
            return self;
        }
        match std::env::var(name) {
            Ok(v) if !v.is_empty() => Given {
                value: Some(v),
                source: Some(Source::Env),
            },
            _ => self,
        }
    }
}

/// Every setting, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub base_url: Setting<String>,
    pub api_key: Option<Setting<Secret>>,
    pub access_token: Option<Setting<Secret>>,
    pub admin_token: Option<Setting<Secret>>,
    pub platform_token: Option<Setting<Secret>>,
    pub app: Option<Setting<String>>,
    pub user: Option<Setting<String>>,
    pub post: Option<Setting<String>>,
    pub loaded: Loaded,
}

/// The settings as the command line and the environment gave them.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub base_url: Given,
    pub api_key: Given,
    pub access_token: Given,
    pub admin_token: Given,
    pub platform_token: Given,
    pub app: Given,
    pub user: Given,
    pub post: Given,
    pub profile: Given,
    pub config: Given,
}

impl Inputs {
    pub fn from_matches(m: &ArgMatches) -> Inputs {
        Inputs {
            base_url: Given::from_matches(m, "base_url"),
            api_key: Given::from_matches(m, "api_key"),
            access_token: Given::from_matches(m, "access_token"),
            admin_token: Given::from_matches(m, "admin_token"),
            platform_token: Given::from_matches(m, "platform_token"),
            app: Given::from_matches(m, "app"),
            user: Given::from_matches(m, "user").or_env("KENAR_USER"),
            post: Given::from_matches(m, "post").or_env("KENAR_POST"),
            profile: Given::from_matches(m, "profile"),
            config: Given::from_matches(m, "config"),
        }
    }
}

impl Settings {
    /// Resolves every setting: flag or environment (as clap read them), else the profile,
    /// else the default.
    pub fn resolve(inputs: &Inputs, home: &Home) -> CliResult<Settings> {
        let loaded = load(&inputs.config, &inputs.profile, home)?;
        let p = &loaded.profile;
        let pick = |given: &Given, from_profile: &Option<String>| -> Option<Setting<String>> {
            match (&given.value, given.source) {
                (Some(v), Some(source)) => Some(Setting {
                    value: v.clone(),
                    source,
                }),
                _ => from_profile.as_ref().map(|v| Setting {
                    value: v.clone(),
                    source: Source::Profile,
                }),
            }
            .filter(|s| !s.value.is_empty())
        };
        let secret = |given: &Given, from_profile: &Option<String>| {
            pick(given, from_profile).map(|s| Setting {
                value: Secret::new(s.value),
                source: s.source,
            })
        };
        Ok(Settings {
            base_url: pick(&inputs.base_url, &p.base_url).unwrap_or(Setting {
                value: DEFAULT_BASE_URL.to_owned(),
                source: Source::Default,
            }),
            api_key: secret(&inputs.api_key, &p.api_key),
            access_token: secret(&inputs.access_token, &p.access_token),
            admin_token: secret(&inputs.admin_token, &p.admin_token),
            platform_token: secret(&inputs.platform_token, &p.platform_token),
            app: pick(&inputs.app, &p.app),
            user: pick(&inputs.user, &p.user),
            post: pick(&inputs.post, &p.post),
            loaded,
        })
    }

    /// The base URL without a trailing `/`.
    pub fn base_url(&self) -> &str {
        self.base_url.value.trim_end_matches('/')
    }

    fn missing(&self, what: &str, flag: &str, env: &str, key: &str) -> CliError {
        let file = match &self.loaded.path {
            Some(p) => p.display().to_string(),
            None => "the profile file".to_owned(),
        };
        CliError::usage(format!(
            "no {what}: pass {flag}, set {env}, or add {key} to profile {:?} in {file}",
            self.loaded.profile_name
        ))
    }

    pub fn admin_token(&self) -> CliResult<&Secret> {
        self.admin_token.as_ref().map(|s| &s.value).ok_or_else(|| {
            self.missing(
                "admin token",
                "--admin-token",
                "KENAR_ADMIN_TOKEN",
                "admin_token",
            )
        })
    }

    pub fn platform_token(&self) -> CliResult<&Secret> {
        self.platform_token
            .as_ref()
            .map(|s| &s.value)
            .ok_or_else(|| {
                self.missing(
                    "platform token",
                    "--platform-token",
                    "KENAR_PLATFORM_TOKEN",
                    "platform_token",
                )
            })
    }

    pub fn api_key(&self) -> CliResult<&Secret> {
        self.api_key
            .as_ref()
            .map(|s| &s.value)
            .ok_or_else(|| self.missing("API key", "--api-key", "KENAR_API_KEY", "api_key"))
    }

    pub fn access_token(&self) -> CliResult<&Secret> {
        self.access_token.as_ref().map(|s| &s.value).ok_or_else(|| {
            self.missing(
                "access token",
                "--access-token",
                "KENAR_ACCESS_TOKEN",
                "access_token",
            )
        })
    }

    /// The app to act on: the command's own argument, else the `--app` setting.
    pub fn app<'a>(&'a self, given: Option<&'a str>) -> CliResult<&'a str> {
        given
            .or(self.app.as_ref().map(|s| s.value.as_str()))
            .ok_or_else(|| self.missing("app", "--app SLUG", "KENAR_APP", "app"))
    }

    /// The platform user to act for.
    pub fn user(&self) -> CliResult<&str> {
        self.user
            .as_ref()
            .map(|s| s.value.as_str())
            .ok_or_else(|| self.missing("user", "--user ID", "KENAR_USER", "user"))
    }

    /// The post to act on.
    pub fn post(&self) -> CliResult<&str> {
        self.post
            .as_ref()
            .map(|s| s.value.as_str())
            .ok_or_else(|| self.missing("post", "--post TOKEN", "KENAR_POST", "post"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(value: &str, source: Source) -> Given {
        Given {
            value: Some(value.to_owned()),
            source: Some(source),
        }
    }

    fn home_with(file: &str, text: &str) -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().expect("tempdir");
        let kenar = dir.path().join("kenar");
        std::fs::create_dir_all(&kenar).expect("mkdir");
        std::fs::write(kenar.join(file), text).expect("write");
        let home = Home {
            xdg_config_home: Some(dir.path().to_path_buf()),
            home: None,
        };
        (dir, home)
    }

    #[test]
    fn flags_and_environment_win_over_the_profile_which_wins_over_defaults() {
        let (_dir, home) = home_with(
            "config.toml",
            "[default]\nbase_url = \"http://profile\"\nadmin_token = \"p-admin\"\napp = \"p-app\"\n",
        );
        let inputs = Inputs {
            admin_token: given("env-admin", Source::Env),
            app: given("flag-app", Source::Flag),
            ..Inputs::default()
        };
        let s = Settings::resolve(&inputs, &home).expect("resolves");
        assert_eq!(s.base_url.value, "http://profile");
        assert_eq!(s.base_url.source, Source::Profile);
        assert_eq!(s.admin_token().expect("set").expose(), "env-admin");
        assert_eq!(s.app(None).expect("set"), "flag-app");
        assert_eq!(s.app(Some("given")).expect("set"), "given");
        assert!(s.platform_token().is_err());
    }

    #[test]
    fn without_any_file_the_default_base_url_applies() {
        let s = Settings::resolve(&Inputs::default(), &Home::default()).expect("resolves");
        assert_eq!(s.base_url(), DEFAULT_BASE_URL);
        assert_eq!(s.base_url.source, Source::Default);
        let err = s.admin_token().expect_err("missing");
        assert!(err.to_string().contains("KENAR_ADMIN_TOKEN"), "{err}");
    }

    #[test]
    fn a_named_profile_is_read_from_a_json_file_and_must_exist() {
        let (_dir, home) = home_with(
            "config.json",
            r#"{"default": {"app": "a"}, "staging": {"app": "s", "post": "gZd7omnS"}}"#,
        );
        let inputs = Inputs {
            profile: given("staging", Source::Flag),
            ..Inputs::default()
        };
        let s = Settings::resolve(&inputs, &home).expect("resolves");
        assert_eq!(s.app(None).expect("set"), "s");
        assert_eq!(s.post().expect("set"), "gZd7omnS");
        let inputs = Inputs {
            profile: given("prod", Source::Env),
            ..Inputs::default()
        };
        let err = Settings::resolve(&inputs, &home).expect_err("no such profile");
        assert!(err.to_string().contains("default, staging"), "{err}");
    }

    #[test]
    fn a_misspelt_key_is_refused_with_the_file_name() {
        let (_dir, home) = home_with("config.toml", "[default]\nadmin_tokn = \"x\"\n");
        let err = Settings::resolve(&Inputs::default(), &home).expect_err("typo");
        let shown = err.to_string();
        assert!(
            shown.contains("admin_tokn") && shown.contains("config.toml"),
            "{shown}"
        );
    }

    #[test]
    fn an_explicit_profile_file_must_exist() {
        let inputs = Inputs {
            config: given("/nonexistent/kenar.toml", Source::Env),
            ..Inputs::default()
        };
        let err = Settings::resolve(&inputs, &Home::default()).expect_err("missing");
        assert!(err.to_string().contains("KENAR_CONFIG"), "{err}");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let shown = format!("{:?}", Secret::new("kenar_adm_123"));
        assert!(!shown.contains("123"), "{shown}");
    }
}

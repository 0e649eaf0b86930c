//! Configuration from the environment, with an optional `KEY=VALUE` file named by
//! `CCHC_CONFIG_FILE`. The environment wins over the file. Every failure names the
//! variable, so an operator knows what to fix.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing required configuration variable {0}")]
    Missing(String),
    #[error("configuration variable {name} has a bad value {value:?}: {reason}")]
    Invalid {
        name: String,
        value: String,
        reason: String,
    },
    #[error("cannot read configuration file {path}: {reason}")]
    File { path: String, reason: String },
}

/// A snapshot of configuration values: the file's, overlaid by the environment's.
#[derive(Debug, Clone, Default)]
pub struct Config {
    values: HashMap<String, String>,
}

impl Config {
    /// Reads `CCHC_CONFIG_FILE` (when set) and then the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut values = HashMap::new();
        if let Ok(path) = std::env::var("CCHC_CONFIG_FILE") {
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            values.extend(parse_file(&text).map_err(|reason| ConfigError::File {
                path: path.clone(),
                reason,
            })?);
        }
        values.extend(std::env::vars());
        Ok(Self { values })
    }

    /// Builds a configuration from explicit pairs; tests use it instead of the environment.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    pub fn optional(&self, name: &str) -> Option<String> {
        self.values.get(name).filter(|v| !v.is_empty()).cloned()
    }

    pub fn required(&self, name: &str) -> Result<String, ConfigError> {
        self.optional(name)
            .ok_or_else(|| ConfigError::Missing(name.to_owned()))
    }

    pub fn parse_or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.optional(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e: T::Err| ConfigError::Invalid {
                name: name.to_owned(),
                value: v.clone(),
                reason: e.to_string(),
            }),
        }
    }

    pub fn parse_required<T>(&self, name: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        let v = self.required(name)?;
        v.parse().map_err(|e: T::Err| ConfigError::Invalid {
            name: name.to_owned(),
            value: v.clone(),
            reason: e.to_string(),
        })
    }
}

fn parse_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("line {} is not KEY=VALUE", n + 1))?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        out.push((k.trim().to_owned(), v.to_owned()));
    }
    Ok(out)
}

/// The database URL of service `name`: `CCHC_<NAME>_DATABASE_URL`, or `DATABASE_URL` with
/// its database replaced by `cchc_<name>`.
pub fn database_url(config: &Config, name: &str) -> Result<String, ConfigError> {
    let specific = format!("CCHC_{}_DATABASE_URL", name.to_uppercase());
    if let Some(url) = config.optional(&specific) {
        return Ok(url);
    }
    let base = config
        .required("DATABASE_URL")
        .map_err(|_| ConfigError::Missing(format!("{specific} (or DATABASE_URL)")))?;
    crate::db::with_database(&base, &format!("cchc_{name}")).map_err(|reason| {
        ConfigError::Invalid {
            name: "DATABASE_URL".into(),
            value: base.clone(),
            reason,
        }
    })
}

/// `CCHC_INTERNAL_TOKEN`: the secret the gateway signs callers with and the services
/// verify them by (see [`crate::caller`]).
pub fn internal_token(config: &Config) -> Result<String, ConfigError> {
    secret(config, "CCHC_INTERNAL_TOKEN")?
        .ok_or_else(|| ConfigError::Missing("CCHC_INTERNAL_TOKEN".into()))
}

/// An optional secret (token, key) of at least 16 characters; its value is never
/// shown in the error.
pub fn secret(config: &Config, name: &str) -> Result<Option<String>, ConfigError> {
    match config.optional(name) {
        Some(t) if t.len() < 16 => Err(ConfigError::Invalid {
            name: name.into(),
            value: "(hidden)".into(),
            reason: "must be at least 16 characters".into(),
        }),
        t => Ok(t),
    }
}

/// The settings every service needs, read once at start.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// Name used in logs, traces, stream names and the default database name.
    pub name: &'static str,
    pub database_url: String,
    pub nats_url: String,
    pub grpc_addr: std::net::SocketAddr,
    pub http_addr: std::net::SocketAddr,
    /// Verifies the callers the gateway signed (`CCHC_INTERNAL_TOKEN`).
    pub caller_key: crate::caller::CallerKey,
}

impl ServiceSettings {
    /// Reads the [`database_url`], `NATS_URL`, `CCHC_GRPC_ADDR`, `CCHC_HTTP_ADDR` and
    /// [`internal_token`].
    pub fn load(
        config: &Config,
        name: &'static str,
        default_grpc_port: u16,
    ) -> Result<Self, ConfigError> {
        let database_url = database_url(config, name)?;
        Ok(Self {
            name,
            database_url,
            nats_url: config
                .optional("NATS_URL")
                .unwrap_or_else(|| "nats://127.0.0.1:4222".into()),
            grpc_addr: config.parse_or(
                "CCHC_GRPC_ADDR",
                std::net::SocketAddr::from(([127, 0, 0, 1], default_grpc_port)),
            )?,
            http_addr: config.parse_or(
                "CCHC_HTTP_ADDR",
                std::net::SocketAddr::from(([127, 0, 0, 1], default_grpc_port + 1000)),
            )?,
            caller_key: crate::caller::CallerKey::new(&internal_token(config)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_variable_is_named() {
        let c = Config::from_pairs([("A", "1")]);
        let e = c.required("NATS_URL").unwrap_err();
        assert_eq!(
            e.to_string(),
            "missing required configuration variable NATS_URL"
        );
    }

    #[test]
    fn bad_value_names_variable_and_value() {
        let c = Config::from_pairs([("CCHC_GRPC_ADDR", "not-an-addr")]);
        let e = c
            .parse_required::<std::net::SocketAddr>("CCHC_GRPC_ADDR")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("CCHC_GRPC_ADDR") && e.contains("not-an-addr"),
            "{e}"
        );
    }

    #[test]
    fn secrets_are_long_enough_and_never_echoed() {
        let c = Config::from_pairs([("T", "short-secret"), ("U", "a-long-enough-secret")]);
        let e = secret(&c, "T").unwrap_err().to_string();
        assert!(e.contains("T") && !e.contains("short-secret"), "{e}");
        assert_eq!(
            secret(&c, "U").unwrap().as_deref(),
            Some("a-long-enough-secret")
        );
        assert_eq!(secret(&c, "V").unwrap(), None);
        assert!(internal_token(&c).is_err());
    }

    #[test]
    fn file_lines_parse_with_comments_and_quotes() {
        let v = parse_file("# c\nexport A=1\nB = \"two words\"\n\n").unwrap();
        assert_eq!(
            v,
            vec![("A".into(), "1".into()), ("B".into(), "two words".into())]
        );
        assert!(parse_file("nonsense").is_err());
    }

    #[test]
    fn service_database_derived_from_base_url() {
        let c = Config::from_pairs([
            (
                "DATABASE_URL",
                "postgres://u:p@h:5/postgres?sslmode=disable",
            ),
            ("CCHC_INTERNAL_TOKEN", "internal-token-0123456789"),
        ]);
        let s = ServiceSettings::load(&c, "catalogue", 50051).unwrap();
        assert_eq!(
            s.database_url,
            "postgres://u:p@h:5/cchc_catalogue?sslmode=disable"
        );
        assert_eq!(s.grpc_addr.port(), 50051);
    }
}

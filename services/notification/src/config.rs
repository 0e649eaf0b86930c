//! The notification service's own settings, read once at start from the environment.

use std::time::Duration;

use cchc_platform::{Config, ConfigError};

use crate::domain::address::AddressPolicy;

pub const DEFAULT_MAIL_FROM: &str = "Sở GD&ĐT <no-reply@sgddt.example.vn>";

/// How messages are delivered.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// `CCHC_SMTP_URL`: lettre's URL form — `smtp://host:port` (plain),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://host:465`.
    /// Unset: e-mail deliveries fail permanently, saying so.
    pub smtp_url: Option<String>,
    /// `CCHC_MAIL_FROM`
    pub mail_from: String,
    /// `CCHC_SMTP_TIMEOUT_SECS`
    pub smtp_timeout: Duration,
    /// `CCHC_WEBHOOK_TIMEOUT_SECS`
    pub webhook_timeout: Duration,
    /// `CCHC_WEBHOOK_ALLOW_NETWORKS`: besides public addresses, the networks webhooks
    /// may go to (a comma-separated CIDR list; empty by default).
    pub webhook_addresses: AddressPolicy,
    /// `CCHC_DELIVERY_MAX_ATTEMPTS`: attempts before a message is dead-lettered.
    pub max_attempts: u32,
    /// `CCHC_DELIVERY_BACKOFF_MS` and `CCHC_DELIVERY_BACKOFF_MAX_MS`
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// `CCHC_DELIVERY_ENDPOINT_CONCURRENCY`: sends in flight to one webhook endpoint.
    pub per_endpoint: usize,
    /// `CCHC_SMTP_CONCURRENCY`: sends in flight to the SMTP server, each on a connection
    /// of its own, kept open for the next.
    pub smtp_concurrency: usize,
    /// `CCHC_DELIVERY_CONCURRENCY`: sends in flight in all.
    pub in_flight: usize,
    /// `CCHC_DELIVERY_BATCH`: messages to one endpoint a sending slot takes in one
    /// claim and sends in turn.
    pub batch: usize,
    /// `CCHC_DELIVERY_LEASE_SECS`: how long an attempt may stay "sending" before a crash
    /// is assumed and it is taken again; by default longer than any send can last.
    pub lease: Duration,
    /// How often the worker looks for due messages when nothing wakes it.
    pub poll: Duration,
}

/// When reminders fire.
#[derive(Debug, Clone)]
pub struct ReminderSettings {
    /// `CCHC_REMINDER_DAYS_BEFORE`: remind units this many days before a due date.
    pub days_before: u32,
    /// `CCHC_STALE_POSTING_REMINDER_DAYS`: remind a unit of a posting stale this long.
    pub stale_posting_days: u32,
    /// Escalations and reminders are not sent for due dates further back than this
    /// (a plan entered late does not flood anyone about long-past periods).
    pub grace_days: u32,
    /// `CCHC_SCHEDULER_INTERVAL_SECS`
    pub interval: Duration,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub delivery: DeliverySettings,
    pub reminders: ReminderSettings,
    /// `CCHC_PUBLIC_URL`: the gateway's public address, to make report links absolute.
    pub public_url: String,
}

fn secs(config: &Config, name: &str, default: u64) -> Result<Duration, ConfigError> {
    Ok(Duration::from_secs(config.parse_or(name, default)?))
}

fn positive<T: PartialOrd + Default>(name: &str, v: T, raw: &Config) -> Result<T, ConfigError> {
    if v > T::default() {
        Ok(v)
    } else {
        Err(ConfigError::Invalid {
            name: name.to_owned(),
            value: raw.optional(name).unwrap_or_default(),
            reason: "must be greater than 0".into(),
        })
    }
}

impl Settings {
    pub fn load(config: &Config) -> Result<Self, ConfigError> {
        let smtp_timeout = secs(config, "CCHC_SMTP_TIMEOUT_SECS", 30)?;
        let webhook_timeout = secs(config, "CCHC_WEBHOOK_TIMEOUT_SECS", 10)?;
        let smtp_url = config.optional("CCHC_SMTP_URL");
        if let Some(url) = &smtp_url {
            crate::delivery::smtp::Relay::parse(url).map_err(|reason| ConfigError::Invalid {
                name: "CCHC_SMTP_URL".into(),
                value: url.clone(),
                reason,
            })?;
        }
        let mail_from = config
            .optional("CCHC_MAIL_FROM")
            .unwrap_or_else(|| DEFAULT_MAIL_FROM.to_owned());
        mail_from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| ConfigError::Invalid {
                name: "CCHC_MAIL_FROM".into(),
                value: mail_from.clone(),
                reason: e.to_string(),
            })?;
        let backoff_base = Duration::from_millis(positive(
            "CCHC_DELIVERY_BACKOFF_MS",
            config.parse_or("CCHC_DELIVERY_BACKOFF_MS", 5_000u64)?,
            config,
        )?);
        let backoff_max = Duration::from_millis(
            config
                .parse_or("CCHC_DELIVERY_BACKOFF_MAX_MS", 3_600_000u64)?
                .max(backoff_base.as_millis() as u64),
        );
        let allow = config
            .optional("CCHC_WEBHOOK_ALLOW_NETWORKS")
            .unwrap_or_default();
        let webhook_addresses =
            AddressPolicy::parse(&allow).map_err(|reason| ConfigError::Invalid {
                name: "CCHC_WEBHOOK_ALLOW_NETWORKS".into(),
                value: allow.clone(),
                reason,
            })?;
        let delivery = DeliverySettings {
            smtp_url,
            mail_from,
            smtp_timeout,
            webhook_timeout,
            webhook_addresses,
            max_attempts: positive(
                "CCHC_DELIVERY_MAX_ATTEMPTS",
                config.parse_or("CCHC_DELIVERY_MAX_ATTEMPTS", 8u32)?,
                config,
            )?,
            backoff_base,
            backoff_max,
            per_endpoint: positive(
                "CCHC_DELIVERY_ENDPOINT_CONCURRENCY",
                config.parse_or("CCHC_DELIVERY_ENDPOINT_CONCURRENCY", 4usize)?,
                config,
            )?,
            smtp_concurrency: positive(
                "CCHC_SMTP_CONCURRENCY",
                config.parse_or("CCHC_SMTP_CONCURRENCY", 16usize)?,
                config,
            )?,
            in_flight: positive(
                "CCHC_DELIVERY_CONCURRENCY",
                config.parse_or("CCHC_DELIVERY_CONCURRENCY", 64usize)?,
                config,
            )?,
            batch: positive(
                "CCHC_DELIVERY_BATCH",
                config.parse_or("CCHC_DELIVERY_BATCH", 16usize)?,
                config,
            )?,
            lease: secs(
                config,
                "CCHC_DELIVERY_LEASE_SECS",
                (smtp_timeout.max(webhook_timeout) * 2 + Duration::from_secs(5)).as_secs(),
            )?,
            poll: Duration::from_secs(1),
        };
        let reminders = ReminderSettings {
            days_before: config.parse_or("CCHC_REMINDER_DAYS_BEFORE", 7u32)?,
            stale_posting_days: config.parse_or("CCHC_STALE_POSTING_REMINDER_DAYS", 3u32)?,
            grace_days: 7,
            interval: Duration::from_secs(positive(
                "CCHC_SCHEDULER_INTERVAL_SECS",
                config.parse_or("CCHC_SCHEDULER_INTERVAL_SECS", 60u64)?,
                config,
            )?),
        };
        let public_url = config
            .optional("CCHC_PUBLIC_URL")
            .unwrap_or_else(|| "http://127.0.0.1:8080".into())
            .trim_end_matches('/')
            .to_owned();
        if !cchc_platform::validation::is_http_url(&public_url) {
            return Err(ConfigError::Invalid {
                name: "CCHC_PUBLIC_URL".into(),
                value: public_url,
                reason: "must be an http(s) URL".into(),
            });
        }
        Ok(Self {
            delivery,
            reminders,
            public_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_named_failures() {
        let s = Settings::load(&Config::default()).unwrap();
        assert_eq!(s.delivery.mail_from, DEFAULT_MAIL_FROM);
        assert!(s.delivery.smtp_url.is_none());
        assert_eq!(s.reminders.days_before, 7);
        assert_eq!(s.reminders.stale_posting_days, 3);
        assert!(s.delivery.lease > s.delivery.smtp_timeout);
        assert!(s.delivery.webhook_addresses.allowed().is_empty());

        let e = Settings::load(&Config::from_pairs([("CCHC_SMTP_URL", "gopher://x")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("CCHC_SMTP_URL"), "{e}");
        let e = Settings::load(&Config::from_pairs([("CCHC_MAIL_FROM", "nobody")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("CCHC_MAIL_FROM"), "{e}");
        let e = Settings::load(&Config::from_pairs([("CCHC_DELIVERY_MAX_ATTEMPTS", "0")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("CCHC_DELIVERY_MAX_ATTEMPTS"), "{e}");
        let ok = Settings::load(&Config::from_pairs([(
            "CCHC_SMTP_URL",
            "smtp://u:p@mail.example.vn:587?tls=required",
        )]))
        .unwrap();
        assert!(ok.delivery.smtp_url.is_some());

        let e = Settings::load(&Config::from_pairs([(
            "CCHC_WEBHOOK_ALLOW_NETWORKS",
            "10.1.0.0/16,lan",
        )]))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("CCHC_WEBHOOK_ALLOW_NETWORKS") && e.contains("lan"),
            "{e}"
        );
        let lan = Settings::load(&Config::from_pairs([(
            "CCHC_WEBHOOK_ALLOW_NETWORKS",
            "10.1.0.0/16, 127.0.0.1/32",
        )]))
        .unwrap();
        assert_eq!(lan.delivery.webhook_addresses.allowed().len(), 2);
    }
}

//! The settings of the app behind ferry: the webhook URLs it hears events
//! on, its pre-create hook, and how long a file no owner holds stays.

use std::time::Duration;

use clap::{ArgAction, Args};
use ferry_proto::parse_duration;
use secrecy::{ExposeSecret, SecretString};

use crate::meta::EventKind;
use crate::webhooks::{PreCreateHook, SigningKey, Webhooks};

/// Webhooks, the pre-create hook and deletions.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "The app behind ferry")]
pub struct AppSettings {
    /// URLs every event is posted to (comma-separated); none by default.
    #[arg(long, env = "FERRY_WEBHOOK_URL", value_delimiter = ',')]
    pub webhook_url: Vec<String>,

    /// Secret webhooks and the pre-create hook are signed with: `whsec_` and base64 of at least 16 bytes.
    #[arg(long, env = "FERRY_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<SecretString>,

    /// Event types sent (comma-separated, e.g. `upload.completed,file.deleted`); every type by default.
    #[arg(long, env = "FERRY_WEBHOOK_EVENTS", value_delimiter = ',')]
    pub webhook_events: Vec<String>,

    /// How long one webhook attempt may take.
    #[arg(long, env = "FERRY_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub webhook_timeout: Duration,

    /// How long after its change an event is retried before it is recorded failed.
    #[arg(long, env = "FERRY_WEBHOOK_RETRY_FOR", default_value = "24h", value_parser = parse_duration)]
    pub webhook_retry_for: Duration,

    /// URL asked before an upload session is created or a one-request upload accepted; off by default.
    #[arg(long, env = "FERRY_PRE_CREATE_HOOK")]
    pub pre_create_hook: Option<String>,

    /// How long the pre-create hook may take to answer.
    #[arg(long, env = "FERRY_PRE_CREATE_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub pre_create_timeout: Duration,

    /// Let uploads start when the pre-create hook cannot say (timeout, 5xx, refused connection).
    #[arg(long, env = "FERRY_PRE_CREATE_FAIL_OPEN", default_value_t = false, action = ArgAction::Set)]
    pub pre_create_fail_open: bool,

    /// How long a file stays once no owner holds it, before its bytes are deleted.
    #[arg(long, env = "FERRY_DELETE_GRACE", default_value = "1d", value_parser = parse_duration)]
    pub delete_grace: Duration,
}

impl AppSettings {
    /// Checks the settings agree with each other.
    pub fn validate(&self) -> Result<(), String> {
        let hooked = !self.webhook_url.is_empty() || self.pre_create_hook.is_some();
        if hooked && self.key()?.is_none() {
            return Err(
                "FERRY_WEBHOOK_URL and FERRY_PRE_CREATE_HOOK need FERRY_WEBHOOK_SECRET".into(),
            );
        }
        for url in self.webhook_url.iter().chain(&self.pre_create_hook) {
            match url::Url::parse(url) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
                _ => return Err(format!("{url:?} is not an http(s) URL for a webhook")),
            }
        }
        self.kinds()?;
        for (name, value) in [
            ("FERRY_WEBHOOK_TIMEOUT", self.webhook_timeout),
            ("FERRY_PRE_CREATE_TIMEOUT", self.pre_create_timeout),
        ] {
            if value < Duration::from_millis(10) || value > Duration::from_secs(600) {
                return Err(format!("{name} must be between 10ms and 10m"));
            }
        }
        if self.webhook_retry_for > Duration::from_secs(30 * 86_400) {
            return Err("FERRY_WEBHOOK_RETRY_FOR must be at most 30d".into());
        }
        if self.delete_grace > Duration::from_secs(3650 * 86_400) {
            return Err("FERRY_DELETE_GRACE must be at most 3650d".into());
        }
        Ok(())
    }

    /// Where events go, when somewhere.
    pub fn webhooks(&self) -> Option<Webhooks> {
        if self.webhook_url.is_empty() {
            return None;
        }
        Some(Webhooks {
            targets: self.webhook_url.clone(),
            kinds: self.kinds().ok().flatten(),
            key: self.key().ok().flatten()?,
            timeout: self.webhook_timeout,
            retry_for: self.webhook_retry_for,
        })
    }

    /// The pre-create hook, when there is one.
    pub fn pre_create(&self) -> Option<PreCreateHook> {
        let url = self.pre_create_hook.clone()?;
        let key = self.key().ok().flatten()?;
        Some(PreCreateHook::new(
            url,
            key,
            self.pre_create_timeout,
            self.pre_create_fail_open,
        ))
    }

    fn key(&self) -> Result<Option<SigningKey>, String> {
        self.webhook_secret
            .as_ref()
            .map(|secret| {
                SigningKey::parse(secret.expose_secret())
                    .map_err(|error| format!("FERRY_WEBHOOK_SECRET: {error}"))
            })
            .transpose()
    }

    fn kinds(&self) -> Result<Option<Vec<EventKind>>, String> {
        if self.webhook_events.is_empty() {
            return Ok(None);
        }
        self.webhook_events
            .iter()
            .map(|name| {
                EventKind::parse(name.trim())
                    .ok_or_else(|| format!("FERRY_WEBHOOK_EVENTS: {name:?} is not an event type"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

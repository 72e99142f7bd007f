//! The server's settings: defaults, overridden by a TOML file, overridden
//! by environment variables, overridden by command-line flags.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, FromArgMatches};
use ferry_proto::{parse_duration, parse_size};
use secrecy::{ExposeSecret, SecretString};

use crate::blob::MAX_COPY_SIZE;
use crate::telemetry::LogFormat;
use crate::upload::{Limits, MemoryBounds, Timings};

mod app;
mod bucket;
mod security;
mod sources;

pub use app::AppSettings;
pub use bucket::{BucketSettings, DownloadRedirect};
pub use security::{DownloadAccess, InstantUploadMode, SecuritySettings};
pub use sources::{LoadError, Provenance, Source, load};

/// Longest duration a setting may name: ten years.
const MAX_DURATION: Duration = Duration::from_secs(3650 * 86_400);

/// Everything `ferryd` can be told.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// TOML file of settings, each key the name of a flag with `_` for `-`
    /// (`max_file_size = "1GiB"`); the environment and flags override it.
    #[arg(long, env = "FERRY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address and port to listen on.
    #[arg(long, env = "FERRY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Address and port of `/metrics`, `/healthz` and `/readyz` for Prometheus and probes;
    /// once set, the main address answers neither `/metrics` nor `/readyz` (unset: it answers both).
    #[arg(long, env = "FERRY_ADMIN_BIND")]
    pub admin_bind: Option<SocketAddr>,

    /// Connections the kernel holds for ferryd to accept (the listen backlog, capped by the
    /// kernel's `somaxconn`); beyond it, connections are refused or time out.
    #[arg(long, env = "FERRY_LISTEN_BACKLOG", default_value_t = 1024)]
    pub listen_backlog: u32,

    /// Metadata database: `sqlite://PATH` (embedded) or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://storage/ferry.db",
        hide_env_values = true
    )]
    pub database_url: SecretString,

    /// Most database connections per instance.
    #[arg(long, env = "FERRY_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// Object store for chunks and files: a folder, `file:///PATH`, `s3://BUCKET[/PREFIX]` or `memory://`.
    #[arg(long, env = "FERRY_STORE", default_value = "storage/objects")]
    pub store: String,

    /// How an `s3://` store reaches its bucket.
    #[command(flatten)]
    pub bucket: BucketSettings,

    /// Largest file accepted.
    #[arg(long, env = "FERRY_MAX_FILE_SIZE", default_value = "100GiB", value_parser = parse_size)]
    pub max_file_size: u64,

    /// Smallest chunk size the server agrees to.
    #[arg(long, env = "FERRY_MIN_CHUNK_SIZE", default_value = "256KiB", value_parser = parse_size)]
    pub min_chunk_size: u64,

    /// Largest chunk size the server agrees to.
    #[arg(long, env = "FERRY_MAX_CHUNK_SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_chunk_size: u64,

    /// Chunk size when a client states no wish.
    #[arg(long, env = "FERRY_DEFAULT_CHUNK_SIZE", default_value = "8MiB", value_parser = parse_size)]
    pub default_chunk_size: u64,

    /// Most chunks one file may be cut into.
    #[arg(long, env = "FERRY_MAX_CHUNKS", default_value_t = 10_000)]
    pub max_chunks: u64,

    /// Largest file accepted in one request (`PUT /v1/files/{sha256}`).
    #[arg(long, env = "FERRY_DIRECT_UPLOAD_MAX", default_value = "16MiB", value_parser = parse_size)]
    pub direct_upload_max: u64,

    /// Bytes of request bodies held in memory on their way to the store, across every request
    /// (a chunk, or the parts of a bucket's multipart write, each); a write that cannot have its
    /// buffer within `FERRY_BUFFER_WAIT` is answered 503 with `Retry-After`.
    #[arg(long, env = "FERRY_BUFFER_BUDGET", default_value = "256MiB", value_parser = parse_size)]
    pub buffer_budget: u64,

    /// How long a write waits for its body buffer before it is answered 503; meanwhile its
    /// connection has read at most 16 KiB of its body.
    #[arg(long, env = "FERRY_BUFFER_WAIT", default_value = "10s", value_parser = parse_duration)]
    pub buffer_wait: Duration,

    /// Bytes of chunks that arrived ahead of their turn held in memory until the chunk before them
    /// joins the file's running hash; beyond it they are read back from the store instead.
    #[arg(long, env = "FERRY_HASH_WINDOW", default_value = "64MiB", value_parser = parse_size)]
    pub hash_window: u64,

    /// How long a session lives after its last activity.
    #[arg(long, env = "FERRY_SESSION_TTL", default_value = "24h", value_parser = parse_duration)]
    pub session_ttl: Duration,

    /// How long `complete` waits for a merge before answering 202.
    #[arg(long, env = "FERRY_MERGE_WAIT", default_value = "20s", value_parser = parse_duration)]
    pub merge_wait: Duration,

    /// How long a merge lease holds unless renewed (it is renewed every third of it).
    #[arg(long, env = "FERRY_MERGE_LEASE", default_value = "30s", value_parser = parse_duration)]
    pub merge_lease: Duration,

    /// Attempts a merge gets when the object store fails it in a way that
    /// may pass, 1s apart and doubling up to a minute; after the last the
    /// upload fails with `merge-failed`.
    #[arg(long, env = "FERRY_MERGE_ATTEMPTS", default_value_t = 8)]
    pub merge_attempts: u32,

    /// How often expired sessions and stalled merges are swept.
    #[arg(long, env = "FERRY_SWEEP_INTERVAL", default_value = "60s", value_parser = parse_duration)]
    pub sweep_interval: Duration,

    /// Move files published in parts (by versions before each file became
    /// one object) to their one object in the background, one file at a
    /// time, each claimed in the database; `false` leaves them to
    /// `ferryd store move-parts`.
    #[arg(long, env = "FERRY_MIGRATE_PARTS", default_value_t = true, action = ArgAction::Set)]
    pub migrate_parts: bool,

    /// How long an object no database row needs stays in the store once the
    /// hourly listing first found it, before a listing deletes it; `off`
    /// keeps every leftover until `ferryd store leftovers --delete`.
    #[arg(long, env = "FERRY_LEFTOVER_QUARANTINE", default_value = "7d", value_parser = parse_quarantine)]
    pub leftover_quarantine: Quarantine,

    /// How long requests in flight may take to finish once ferryd is told to
    /// stop (SIGTERM, SIGINT); running merges are then handed back.
    #[arg(long, env = "FERRY_SHUTDOWN_GRACE", default_value = "20s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Serve the upload page at `/` (`false` leaves `/` a 404).
    #[arg(long, env = "FERRY_UPLOAD_PAGE", default_value_t = true, action = ArgAction::Set)]
    pub upload_page: bool,

    /// How log lines are written: `text` for a terminal, `json` for a log store.
    #[arg(long, env = "FERRY_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Tokens, download access, instant upload, limits and timeouts.
    #[command(flatten)]
    pub security: SecuritySettings,

    /// Webhooks, the pre-create hook and deletions.
    #[command(flatten)]
    pub app: AppSettings,
}

/// How long leftovers wait before the hourly listing deletes them; `None`:
/// until an operator's command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quarantine(pub Option<Duration>);

fn parse_quarantine(text: &str) -> Result<Quarantine, String> {
    if text.trim() == "off" {
        return Ok(Quarantine(None));
    }
    parse_duration(text).map(|duration| Quarantine(Some(duration)))
}

impl Settings {
    /// Every setting at its default, whatever the environment says: the
    /// settings tests start from.
    pub fn defaults() -> Self {
        let command =
            Settings::augment_args(clap::Command::new("ferryd")).mut_args(|arg| arg.env(None));
        let matches = command.get_matches_from(["ferryd"]);
        Settings::from_arg_matches(&matches)
            .unwrap_or_else(|error| unreachable!("the defaults parse: {error}"))
    }

    /// The upload limits these settings name.
    pub fn limits(&self) -> Limits {
        Limits {
            max_file_size: self.max_file_size,
            min_chunk_size: self.min_chunk_size,
            max_chunk_size: self.max_chunk_size,
            default_chunk_size: self.default_chunk_size,
            max_chunks: self.max_chunks,
            direct_upload_max: self.direct_upload_max,
        }
    }

    /// The bounds on memory held for bodies these settings name.
    pub fn memory_bounds(&self) -> MemoryBounds {
        MemoryBounds {
            body_buffers: self.buffer_budget,
            buffer_wait: self.buffer_wait,
            hash_window: self.hash_window,
        }
    }

    /// The timings these settings name.
    pub fn timings(&self) -> Timings {
        Timings {
            session_ttl: self.session_ttl,
            merge_wait: self.merge_wait,
            merge_lease: self.merge_lease,
            merge_attempts: self.merge_attempts,
            delete_grace: self.app.delete_grace,
        }
    }

    /// Whether the metadata database is PostgreSQL.
    pub fn uses_postgres(&self) -> bool {
        let url = self.database_url.expose_secret();
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    }

    /// Checks that the settings agree with each other.
    pub fn validate(&self) -> Result<(), String> {
        self.limits().validate().map_err(|reason| {
            format!(
                "FERRY_MAX_FILE_SIZE, FERRY_MIN_CHUNK_SIZE, FERRY_MAX_CHUNK_SIZE and \
                 FERRY_MAX_CHUNKS disagree: {reason}"
            )
        })?;
        self.security.validate()?;
        self.app.validate()?;
        self.bucket.validate()?;
        if self.bucket.redirect_ttl().is_some() && !self.store.starts_with("s3://") {
            return Err(format!(
                "FERRY_DOWNLOAD_REDIRECT=presigned needs an s3:// store, not {}",
                self.store
            ));
        }
        if !self.security.requires_tokens()
            && !self.bind.ip().is_loopback()
            && !self.security.insecure_no_auth
        {
            return Err(format!(
                "ferryd would serve {} without authentication: set FERRY_JWT_SECRET, \
                 FERRY_JWT_PUBLIC_KEY or FERRY_JWT_JWKS, or FERRY_INSECURE_NO_AUTH=true",
                self.bind
            ));
        }
        if self.admin_bind == Some(self.bind) && self.bind.port() != 0 {
            return Err(format!(
                "FERRY_ADMIN_BIND must differ from FERRY_BIND ({})",
                self.bind
            ));
        }
        if !(1..=65_535).contains(&self.listen_backlog) {
            return Err("FERRY_LISTEN_BACKLOG must be between 1 and 65535".into());
        }
        if self.session_ttl < Duration::from_secs(1) || self.session_ttl > MAX_DURATION {
            return Err("FERRY_SESSION_TTL must be between 1s and 3650d".into());
        }
        if self.merge_lease < Duration::from_millis(300)
            || self.merge_lease > Duration::from_secs(3600)
        {
            return Err("FERRY_MERGE_LEASE must be between 300ms and 1h".into());
        }
        if !(1..=100).contains(&self.merge_attempts) {
            return Err("FERRY_MERGE_ATTEMPTS must be between 1 and 100".into());
        }
        if self.store.starts_with("s3://") && self.max_chunk_size > MAX_COPY_SIZE {
            return Err(format!(
                "FERRY_MAX_CHUNK_SIZE is {} bytes, above the {MAX_COPY_SIZE} bytes (5 GiB) an \
                 S3 bucket copies in one request, which merging a chunk takes: set it to 5GiB or less",
                self.max_chunk_size
            ));
        }
        if self.buffer_wait > Duration::from_secs(600) {
            return Err("FERRY_BUFFER_WAIT must be at most 10m".into());
        }
        if self.merge_wait > Duration::from_secs(3600) {
            return Err("FERRY_MERGE_WAIT must be at most 1h".into());
        }
        if self.shutdown_grace > Duration::from_secs(3600) {
            return Err("FERRY_SHUTDOWN_GRACE must be at most 1h".into());
        }
        if self.sweep_interval.is_zero() || self.sweep_interval > MAX_DURATION {
            return Err("FERRY_SWEEP_INTERVAL must be between 1ms and 3650d".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_name_the_embedded_stores() {
        let settings = Settings::defaults();
        assert!(settings.validate().is_ok());
        assert_eq!(settings.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.store, "storage/objects");
        assert!(!settings.uses_postgres());
        assert_eq!(settings.session_ttl, Duration::from_secs(24 * 3600));
        assert_eq!(settings.listen_backlog, 1024);
    }

    #[test]
    fn a_listen_backlog_of_none_or_past_the_kernels_range_is_refused() {
        let mut settings = Settings::defaults();
        for backlog in [0, 65_536] {
            settings.listen_backlog = backlog;
            let refused = settings.validate().unwrap_err();
            assert!(refused.contains("FERRY_LISTEN_BACKLOG"), "{refused}");
        }
        settings.listen_backlog = 65_535;
        assert!(settings.validate().is_ok());
    }

    #[test]
    fn a_buffer_wait_past_ten_minutes_is_refused() {
        let mut settings = Settings::defaults();
        assert_eq!(settings.buffer_wait, Duration::from_secs(10));
        settings.buffer_wait = Duration::from_secs(601);
        let refused = settings.validate().unwrap_err();
        assert!(refused.contains("FERRY_BUFFER_WAIT"), "{refused}");
        settings.buffer_wait = Duration::ZERO;
        assert!(settings.validate().is_ok());
    }

    #[test]
    fn chunks_larger_than_a_bucket_copies_at_once_are_refused_on_a_bucket_only() {
        let mut settings = Settings::defaults();
        settings.max_chunk_size = 6 << 30;
        settings.max_file_size = 1 << 40;
        assert!(settings.validate().is_ok(), "a folder has no copy limit");
        settings.store = "s3://bucket/prefix".into();
        let refused = settings.validate().unwrap_err();
        assert!(refused.contains("FERRY_MAX_CHUNK_SIZE"), "{refused}");
        settings.max_chunk_size = 5 << 30;
        assert!(settings.validate().is_ok());
    }

    #[test]
    fn an_admin_address_that_is_the_main_one_is_refused() {
        let mut settings = Settings::defaults();
        settings.admin_bind = Some(settings.bind);
        let refused = settings.validate().unwrap_err();
        assert!(refused.contains("FERRY_ADMIN_BIND"), "{refused}");
        settings.admin_bind = Some("127.0.0.1:8081".parse().unwrap());
        assert!(settings.validate().is_ok());
    }
}

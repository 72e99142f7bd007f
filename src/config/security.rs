//! The settings that decide who may do what, and how much a client may ask
//! of the server: tokens, signed downloads, proofs of possession, per-owner
//! limits, timeouts and cross-origin requests.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use ferry_proto::{parse_duration, parse_size};
use secrecy::SecretString;

/// Who may download a published file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DownloadAccess {
    /// Anyone who knows its hash.
    Public,
    /// Only with a link signed with the download key.
    Signed,
}

/// What an upload of content the server already has must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InstantUploadMode {
    /// Knowing the hash is enough: the file publishes at once.
    Hash,
    /// The caller must prove it holds the bytes, else it uploads them.
    Proof,
    /// Every upload sends its bytes.
    Off,
}

/// Tokens, download access, instant upload, limits and timeouts.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Security")]
pub struct SecuritySettings {
    /// Shared secret of HS256 bearer tokens (at least 32 bytes); turns authentication on.
    #[arg(long, env = "FERRY_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,

    /// PEM file with the RSA, EC or Ed25519 public key of RS256, ES256/ES384 or EdDSA tokens; turns authentication on.
    #[arg(long, env = "FERRY_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,

    /// JWKS file whose keys verify tokens, chosen by `kid`, each only its `alg`; turns authentication on.
    #[arg(long, env = "FERRY_JWT_JWKS")]
    pub jwt_jwks: Option<PathBuf>,

    /// The `aud` every token must carry.
    #[arg(long, env = "FERRY_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// The `iss` every token must carry.
    #[arg(long, env = "FERRY_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    #[arg(long, env = "FERRY_JWT_LEEWAY", default_value = "30s", value_parser = parse_duration)]
    pub jwt_leeway: Duration,

    /// Serve without authentication on an address other than loopback.
    #[arg(long, env = "FERRY_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,

    /// Who may download published files: `public`, or `signed` links only.
    #[arg(long, env = "FERRY_DOWNLOADS", value_enum, default_value = "public")]
    pub downloads: DownloadAccess,

    /// Key of signed download links, also the CDN's type A key (at least 16 bytes).
    #[arg(long, env = "FERRY_DOWNLOAD_KEY", hide_env_values = true)]
    pub download_key: Option<SecretString>,

    /// How long the signed `file.url` of an upload holds.
    #[arg(long, env = "FERRY_DOWNLOAD_LINK_TTL", default_value = "1h", value_parser = parse_duration)]
    pub download_link_ttl: Duration,

    /// How long a CDN type A link holds after its timestamp.
    #[arg(long, env = "FERRY_CDN_AUTH_TTL", default_value = "30m", value_parser = parse_duration)]
    pub cdn_auth_ttl: Duration,

    /// Instant upload: `hash`, `proof` or `off` [default: `proof` when downloads are signed, else `hash`].
    #[arg(long, env = "FERRY_INSTANT_UPLOAD", value_enum)]
    pub instant_upload: Option<InstantUploadMode>,

    /// Secret proofs of possession are derived from; every instance must share it
    /// [default: derived from the download key].
    #[arg(long, env = "FERRY_PROOF_KEY", hide_env_values = true)]
    pub proof_key: Option<SecretString>,

    /// Most live upload sessions one owner may hold.
    #[arg(long, env = "FERRY_OWNER_MAX_SESSIONS", default_value_t = 100)]
    pub owner_max_sessions: u64,

    /// Most bytes one owner's live sessions may add up to.
    #[arg(long, env = "FERRY_OWNER_MAX_STAGED", default_value = "200GiB", value_parser = parse_size)]
    pub owner_max_staged: u64,

    /// Requests per second one owner may make on each instance (bursts of twice that).
    #[arg(long, env = "FERRY_OWNER_RATE", default_value_t = 50)]
    pub owner_rate: u32,

    /// Longest time a request head may take to arrive.
    #[arg(long, env = "FERRY_HEAD_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub head_timeout: Duration,

    /// Longest pause in a request body before the request is cut off.
    #[arg(long, env = "FERRY_BODY_IDLE_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub body_idle_timeout: Duration,

    /// Longest pause of a client that does not read its answer before the connection is closed.
    #[arg(long, env = "FERRY_SEND_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub send_timeout: Duration,

    /// How long an idle keep-alive connection stays open.
    #[arg(long, env = "FERRY_KEEP_ALIVE", default_value = "30s", value_parser = parse_duration)]
    pub keep_alive: Duration,

    /// Most connections served at once; more wait to be accepted.
    #[arg(long, env = "FERRY_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// Most connections one client address (an IPv6 /64) may hold; more are refused with 503
    /// (`0`: no limit). Behind a proxy every connection comes from the proxy's address.
    #[arg(long, env = "FERRY_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 128)]
    pub max_connections_per_address: usize,

    /// Origins whose pages may call the API (comma-separated, `*` for any); none by default.
    #[arg(long, env = "FERRY_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
}

impl SecuritySettings {
    /// Whether requests must carry a bearer token.
    pub fn requires_tokens(&self) -> bool {
        self.jwt_secret.is_some() || self.jwt_public_key.is_some() || self.jwt_jwks.is_some()
    }

    /// The instant-upload mode in force.
    pub fn instant_upload(&self) -> InstantUploadMode {
        self.instant_upload.unwrap_or(match self.downloads {
            DownloadAccess::Public => InstantUploadMode::Hash,
            DownloadAccess::Signed => InstantUploadMode::Proof,
        })
    }

    /// Checks that the settings agree with each other.
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.downloads == DownloadAccess::Signed && self.download_key.is_none() {
            return Err("signed downloads need FERRY_DOWNLOAD_KEY".into());
        }
        let short_key = |key: &Option<SecretString>| {
            use secrecy::ExposeSecret;
            key.as_ref()
                .is_some_and(|key| key.expose_secret().len() < 16)
        };
        if short_key(&self.download_key) || short_key(&self.proof_key) {
            return Err("FERRY_DOWNLOAD_KEY and FERRY_PROOF_KEY must be at least 16 bytes".into());
        }
        if self.owner_rate == 0 || self.owner_max_sessions == 0 {
            return Err("FERRY_OWNER_RATE and FERRY_OWNER_MAX_SESSIONS must be at least 1".into());
        }
        for (name, timeout) in [
            ("FERRY_HEAD_TIMEOUT", self.head_timeout),
            ("FERRY_BODY_IDLE_TIMEOUT", self.body_idle_timeout),
            ("FERRY_SEND_TIMEOUT", self.send_timeout),
        ] {
            if timeout < Duration::from_millis(100) || timeout > Duration::from_secs(3600) {
                return Err(format!("{name} must be between 100ms and 1h"));
            }
        }
        if self.max_connections == 0 {
            return Err("FERRY_MAX_CONNECTIONS must be at least 1".into());
        }
        Ok(())
    }
}

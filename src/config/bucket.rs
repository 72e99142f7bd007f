//! How an `s3://` store reaches its bucket.

use std::time::Duration;

use clap::{ArgAction, Args, ValueEnum};
use ferry_proto::{parse_duration, parse_size};
use secrecy::SecretString;

use crate::blob::{MIN_PART_SIZE, S3Options};

/// The largest part S3 accepts.
const MAX_PART_SIZE: u64 = 5 << 30;

/// The smallest part any S3-compatible service is known to take (Alibaba OSS).
const MIN_MIN_PART_SIZE: u64 = 100 << 10;

/// How a download of a file kept as one object in a bucket is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DownloadRedirect {
    /// ferry streams the bytes itself.
    Off,
    /// A redirect to a short-lived presigned URL of the object.
    Presigned,
}

/// The longest a presigned download URL may hold.
const MAX_REDIRECT_TTL: Duration = Duration::from_secs(3600);

/// Settings of S3-compatible stores. Credentials not given here come from
/// the standard `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `AWS_SESSION_TOKEN`, or the instance's role.
#[derive(Debug, Clone, Args)]
pub struct BucketSettings {
    /// Access key id of the bucket's credentials.
    #[arg(long, env = "FERRY_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,

    /// Secret access key of the bucket's credentials.
    #[arg(long, env = "FERRY_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<SecretString>,

    /// Endpoint of an S3-compatible service (MinIO, COS, OSS, R2); AWS S3 when unset.
    #[arg(long, env = "FERRY_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// Region of the bucket (also read from `AWS_REGION`).
    #[arg(long, env = "FERRY_S3_REGION")]
    pub s3_region: Option<String>,

    /// Address buckets as `BUCKET.ENDPOINT` (virtual-hosted) instead of `ENDPOINT/BUCKET`.
    #[arg(long, env = "FERRY_S3_VIRTUAL_HOSTED", default_value_t = false, action = ArgAction::Set)]
    pub s3_virtual_hosted: bool,

    /// Size of each multipart-upload part, and the write buffer of each object written (at least 5MiB).
    #[arg(long, env = "FERRY_S3_PART_SIZE", default_value = "8MiB", value_parser = parse_size)]
    pub s3_part_size: u64,

    /// The smallest part but the last that the service takes in a multipart upload: chunks this large are copied into a published file by the service, smaller ones streamed through ferry (5MiB for AWS S3, 100KiB for Alibaba OSS).
    #[arg(long, env = "FERRY_S3_MIN_PART_SIZE", default_value = "5MiB", value_parser = parse_size)]
    pub s3_min_part_size: u64,

    /// How GETs of a file kept as one object in a bucket are answered: `off` (streamed by ferry) or `presigned` (a 307 to a short-lived presigned URL of the object).
    #[arg(
        long,
        env = "FERRY_DOWNLOAD_REDIRECT",
        value_enum,
        default_value = "off"
    )]
    pub download_redirect: DownloadRedirect,

    /// How long the presigned URL of a download redirect holds.
    #[arg(long, env = "FERRY_DOWNLOAD_REDIRECT_TTL", default_value = "5m", value_parser = parse_duration)]
    pub download_redirect_ttl: Duration,
}

impl BucketSettings {
    /// The options the object store is opened with.
    pub fn options(&self) -> S3Options {
        S3Options {
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self.s3_secret_access_key.clone(),
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            virtual_hosted: self.s3_virtual_hosted,
            part_size: usize::try_from(self.s3_part_size).unwrap_or(usize::MAX),
            min_part_size: self.s3_min_part_size,
        }
    }

    /// How long the presigned URL of a download redirect holds, when
    /// downloads are redirected.
    pub fn redirect_ttl(&self) -> Option<Duration> {
        (self.download_redirect == DownloadRedirect::Presigned)
            .then_some(self.download_redirect_ttl)
    }

    /// Checks the part sizes against what S3 accepts, that a secret comes
    /// with its key id, and the redirect's lifetime.
    pub fn validate(&self) -> Result<(), String> {
        if self.s3_access_key_id.is_some() != self.s3_secret_access_key.is_some() {
            return Err(
                "FERRY_S3_ACCESS_KEY_ID and FERRY_S3_SECRET_ACCESS_KEY are set together or not at all"
                    .into(),
            );
        }
        if self.s3_part_size < MIN_PART_SIZE as u64 || self.s3_part_size > MAX_PART_SIZE {
            return Err("FERRY_S3_PART_SIZE must be between 5MiB and 5GiB".into());
        }
        if self.s3_min_part_size < MIN_MIN_PART_SIZE || self.s3_min_part_size > MAX_PART_SIZE / 4 {
            return Err("FERRY_S3_MIN_PART_SIZE must be between 100KiB and 1280MiB".into());
        }
        if self.download_redirect_ttl < Duration::from_secs(1)
            || self.download_redirect_ttl > MAX_REDIRECT_TTL
        {
            return Err("FERRY_DOWNLOAD_REDIRECT_TTL must be between 1s and 1h".into());
        }
        Ok(())
    }
}

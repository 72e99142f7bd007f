//! S3-compatible buckets: AWS S3, MinIO, Tencent COS, Alibaba OSS,
//! Cloudflare R2 and others that speak the S3 API.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::BlobError;
use super::s3_requests::BucketRequests;
use super::tracked::TrackedBucket;

/// The smallest part S3 accepts in a multipart upload, but for the last.
pub const MIN_PART_SIZE: usize = 5 << 20;

/// The largest object S3 copies in one request (CopyObject), which is how
/// a merge copies each chunk: no chunk may be larger on a bucket.
pub const MAX_COPY_SIZE: u64 = 5 << 30;

/// How to reach a bucket, beyond what the standard `AWS_*` variables say
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// `AWS_REGION`, `AWS_ENDPOINT`); what is set here wins over them.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// Access key id, with its secret; otherwise the `AWS_*` variables or
    /// the instance's role.
    pub access_key_id: Option<String>,
    /// The secret of `access_key_id`.
    pub secret_access_key: Option<SecretString>,
    /// The service's address, for anything but AWS S3 itself; `http://` is
    /// allowed for a local endpoint.
    pub endpoint: Option<String>,
    /// The bucket's region.
    pub region: Option<String>,
    /// Address the bucket as `<bucket>.<endpoint>` rather than
    /// `<endpoint>/<bucket>` (path style, what MinIO expects).
    pub virtual_hosted: bool,
    /// Size of each part of a multipart upload, and so the write buffer of
    /// every object being written.
    pub part_size: usize,
    /// The smallest part, but the last, the service takes in a multipart
    /// upload: chunks at least this large are copied into a published file
    /// by the service itself, smaller ones streamed through ferry.
    pub min_part_size: u64,
}

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            access_key_id: None,
            secret_access_key: None,
            endpoint: None,
            region: None,
            virtual_hosted: false,
            part_size: 8 << 20,
            min_part_size: MIN_PART_SIZE as u64,
        }
    }
}

/// Opens `s3://<bucket>[/<prefix>]`: the store of every key under the
/// prefix, and the bucket whose multipart uploads are tracked.
pub(super) fn open(url: &Url, options: &S3Options) -> Result<TrackedBucket, BlobError> {
    let name = url
        .host_str()
        .filter(|bucket| !bucket.is_empty())
        .ok_or_else(|| config_error(format!("{url} names no bucket: use s3://BUCKET[/PREFIX]")))?;
    if options.part_size < MIN_PART_SIZE {
        return Err(config_error(format!(
            "an S3 part size of {} bytes is below the {MIN_PART_SIZE} bytes S3 requires",
            options.part_size
        )));
    }
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(name)
        .with_virtual_hosted_style_request(options.virtual_hosted)
        .with_client_options(
            ClientOptions::new()
                .with_connect_timeout(Duration::from_secs(5))
                .with_timeout(Duration::from_secs(60)),
        )
        .with_retry(RetryConfig::default());
    if let (Some(id), Some(secret)) = (&options.access_key_id, &options.secret_access_key) {
        builder = builder
            .with_access_key_id(id)
            .with_secret_access_key(secret.expose_secret());
    }
    if let Some(region) = &options.region {
        builder = builder.with_region(region);
    }
    if let Some(endpoint) = &options.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    let requests = requests_to(name, &builder);
    let bucket = builder.build()?;
    let requests = BucketRequests::new(name, requests.0, requests.1, bucket.credentials().clone())
        .map_err(|error| config_error(format!("no HTTP client for the bucket: {error}")))?;
    let prefix = Path::parse(url.path().trim_matches('/'))
        .map_err(|error| config_error(format!("the prefix in {url} is not usable: {error}")))?;
    let notes: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
        Arc::new(bucket.clone())
    } else {
        Arc::new(PrefixStore::new(bucket.clone(), prefix.clone()))
    };
    Ok(TrackedBucket {
        bucket: Arc::new(bucket),
        prefix,
        notes,
        requests,
        min_part_size: options.min_part_size.max(1),
    })
}

/// The bucket's address and region, as the builder resolves them.
fn requests_to(bucket: &str, builder: &AmazonS3Builder) -> (String, String) {
    let region = builder
        .get_config_value(&AmazonS3ConfigKey::Region)
        .unwrap_or_else(|| "us-east-1".to_owned());
    let virtual_hosted = builder
        .get_config_value(&AmazonS3ConfigKey::VirtualHostedStyleRequest)
        .is_some_and(|value| value == "true");
    let endpoint = builder.get_config_value(&AmazonS3ConfigKey::Endpoint);
    let url = match (endpoint, virtual_hosted) {
        (Some(endpoint), true) => endpoint,
        (Some(endpoint), false) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
        (None, true) => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        (None, false) => format!("https://s3.{region}.amazonaws.com/{bucket}"),
    };
    (url, region)
}

fn config_error(message: String) -> BlobError {
    BlobError::io("config", std::io::Error::other(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(location: &str, options: &S3Options) -> String {
        let url = Url::parse(location).unwrap();
        let error = open(&url, options).expect_err("a refusal");
        format!("{error:?}")
    }

    #[test]
    fn a_location_without_a_bucket_is_refused_saying_how_to_name_one() {
        assert!(refusal("s3:///prefix", &S3Options::default()).contains("s3://BUCKET[/PREFIX]"));
    }

    #[test]
    fn a_part_smaller_than_s3_accepts_is_refused() {
        let options = S3Options {
            part_size: 1 << 20,
            ..S3Options::default()
        };
        assert!(refusal("s3://bucket", &options).contains("below the 5242880 bytes"));
    }

    #[test]
    fn a_bucket_opens_without_reaching_the_service() {
        let options = S3Options {
            endpoint: Some("http://127.0.0.1:9".to_owned()),
            region: Some("us-east-1".to_owned()),
            ..S3Options::default()
        };
        let url = Url::parse("s3://bucket/some/prefix").unwrap();
        assert!(open(&url, &options).is_ok());
    }
}

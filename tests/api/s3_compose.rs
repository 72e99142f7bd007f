//! Composing a published file inside a bucket from its chunk objects:
//! chunks of a part or more copied by the bucket itself (UploadPartCopy),
//! smaller ones grouped into parts streamed through ferry, one chunk one
//! copy; one object that any S3 client reads, and no multipart upload
//! left behind, whether the compose succeeds, fails or is cut off.

use std::time::Duration;

use bytes::Bytes;
use futures::stream;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{Attribute, ObjectStore};

use ferry::blob::{BlobStore, ComposePart, PartsError, S3Options};
use ferry::ids::ObjectKey;
use ferry::upload::LeftoverAction;

use crate::counting_proxy::CountingProxy;
use crate::helpers::{Backend, sha256_hex, spawn_app_over, test_bytes};
use crate::s3_server::S3Server;

const MIB: usize = 1 << 20;

/// A bucket on the shared server, reached through a proxy that counts.
struct Counted {
    s3: &'static S3Server,
    bucket: String,
    proxy: CountingProxy,
    store: BlobStore,
}

async fn counted_bucket() -> Counted {
    let s3 = S3Server::shared();
    let bucket = s3.new_bucket().await;
    let proxy = CountingProxy::start(s3.endpoint.trim_start_matches("http://").to_owned()).await;
    let options = S3Options {
        endpoint: Some(proxy.endpoint.clone()),
        ..s3.options()
    };
    let store = BlobStore::open_with(&format!("s3://{bucket}/ferry"), &options).unwrap();
    Counted {
        s3,
        bucket,
        proxy,
        store,
    }
}

impl Counted {
    /// Writes `data` cut at `sizes` as chunk objects; answers their keys
    /// and sizes, and forgets the requests that took.
    async fn chunks(&self, data: &[u8], sizes: &[usize]) -> Vec<ComposePart> {
        let mut sources = Vec::new();
        let mut at = 0;
        for (index, size) in sizes.iter().enumerate() {
            let key = ObjectKey::parse(format!("chunks/u/{index}.t")).unwrap();
            let piece = Bytes::copy_from_slice(&data[at..at + size]);
            let pieces = stream::iter([Ok::<_, std::io::Error>(piece)]);
            self.store.write(&key, pieces, u64::MAX).await.unwrap();
            sources.push(ComposePart {
                key,
                size: *size as u64,
            });
            at += size;
        }
        self.proxy.reset();
        sources
    }

    /// The bytes of `key` (under the prefix) and its media type, fetched
    /// straight from the S3 server by an S3 client of its own.
    async fn fetched(&self, key: &str) -> (Bytes, Option<String>) {
        let client = AmazonS3Builder::new()
            .with_bucket_name(&self.bucket)
            .with_endpoint(&self.s3.endpoint)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id("reader")
            .with_secret_access_key("reader-secret")
            .build()
            .unwrap();
        let found = client
            .get(&Path::from(format!("ferry/{key}")))
            .await
            .unwrap();
        let content_type = found
            .attributes
            .get(&Attribute::ContentType)
            .map(|value| value.to_string());
        (found.bytes().await.unwrap(), content_type)
    }

    async fn nothing_unfinished(&self) {
        assert_eq!(
            self.s3.unfinished_uploads(&self.bucket).await,
            Vec::<String>::new()
        );
        let notes: Vec<String> = self
            .s3
            .keys(&self.bucket)
            .await
            .into_iter()
            .filter(|key| key.starts_with("ferry/multipart/"))
            .collect();
        assert_eq!(notes, Vec::<String>::new(), "notes of finished uploads");
    }
}

fn file_key(data: &[u8]) -> ObjectKey {
    ObjectKey::parse(format!("files/sha256/{}", sha256_hex(data))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_of_a_part_or_more_are_copied_by_the_bucket_with_no_byte_streamed() {
    let bucket = counted_bucket().await;
    let data = test_bytes(14 * MIB, 71);
    let sources = bucket.chunks(&data, &[6 * MIB, 6 * MIB, 2 * MIB]).await;
    let key = file_key(&data);

    let composed = bucket
        .store
        .compose(&sources, &key, Some("video/mp4"))
        .await
        .unwrap();

    assert_eq!(composed.streamed_bytes, 0);
    assert_eq!(bucket.proxy.count("UploadPartCopy"), 3);
    assert_eq!(bucket.proxy.count("UploadPart"), 0);
    assert_eq!(bucket.proxy.count("CreateMultipartUpload"), 1);
    assert_eq!(bucket.proxy.count("CompleteMultipartUpload"), 1);
    let (bytes, content_type) = bucket.fetched(key.as_str()).await;
    assert_eq!(
        sha256_hex(&bytes),
        sha256_hex(&data),
        "the object hashes to its key"
    );
    assert_eq!(content_type.as_deref(), Some("video/mp4"));
    bucket.nothing_unfinished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_chunks_are_grouped_into_streamed_parts_and_a_large_one_copied_past_them() {
    let bucket = counted_bucket().await;
    let data = test_bytes(20 * MIB, 72);
    let mut sizes = vec![MIB; 7];
    sizes.push(13 * MIB);
    let sources = bucket.chunks(&data, &sizes).await;
    let key = file_key(&data);

    let composed = bucket.store.compose(&sources, &key, None).await.unwrap();

    // Five small chunks make a part; two more and 3 MiB of the large one
    // make the next; the rest of the large one is copied.
    assert_eq!(composed.streamed_bytes, 10 * MIB as u64);
    assert_eq!(bucket.proxy.count("UploadPart"), 2);
    assert_eq!(bucket.proxy.part_bytes(), 10 * MIB as u64);
    assert_eq!(bucket.proxy.count("UploadPartCopy"), 1);
    let (bytes, _) = bucket.fetched(key.as_str()).await;
    assert!(bytes == data, "the composed object differs from the chunks");
    bucket.nothing_unfinished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_one_chunk_is_one_copy() {
    let bucket = counted_bucket().await;
    let data = test_bytes(3 * MIB, 73);
    let sources = bucket.chunks(&data, &[3 * MIB]).await;
    let key = file_key(&data);

    let composed = bucket
        .store
        .compose(&sources, &key, Some("text/plain"))
        .await
        .unwrap();

    assert_eq!(composed.streamed_bytes, 0);
    assert_eq!(bucket.proxy.count("CopyObject"), 1);
    assert_eq!(bucket.proxy.count("CreateMultipartUpload"), 0);
    let (bytes, content_type) = bucket.fetched(key.as_str()).await;
    assert!(bytes == data);
    assert_eq!(content_type.as_deref(), Some("text/plain"));
    bucket.nothing_unfinished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_chunk_fails_the_compose_and_leaves_no_upload_behind() {
    let bucket = counted_bucket().await;
    let data = test_bytes(12 * MIB, 74);
    let mut sources = bucket.chunks(&data, &[6 * MIB, 6 * MIB]).await;
    let gone = ObjectKey::parse("chunks/u/gone.t").unwrap();
    sources.insert(
        1,
        ComposePart {
            key: gone.clone(),
            size: 6 * MIB as u64,
        },
    );
    let key = file_key(&data);

    let composed = bucket.store.compose(&sources, &key, None).await;

    assert!(
        matches!(&composed, Err(PartsError::MissingPart(missing)) if *missing == gone),
        "{composed:?}"
    );
    assert!(bucket.proxy.count("AbortMultipartUpload") >= 1);
    assert!(!bucket.store.exists(&key).await.unwrap());
    bucket.nothing_unfinished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_aborts_stale_uploads_noted_or_not_and_leaves_others_alone() {
    let s3 = S3Server::shared();
    let bucket = s3.new_bucket().await;
    let app = spawn_app_over(Backend::Postgres, s3.store(&bucket, "ferry"), |_| {}).await;
    let client = reqwest::Client::new();
    let start = |key: &str| {
        let url = format!("{}/{bucket}/{key}?uploads", s3.endpoint);
        let client = client.clone();
        async move {
            let answer = client.post(url).send().await.unwrap();
            let text = answer.text().await.unwrap();
            let (_, rest) = text.split_once("<UploadId>").unwrap();
            rest.split_once("</UploadId>").unwrap().0.to_owned()
        }
    };
    let dead_merge = start("ferry/files/sha256/aaaa").await;
    start("ferry/files/sha256/bbbb").await;
    start("elsewhere/not-ferrys").await;
    let note = format!("files/sha256/aaaa\n{dead_merge}");
    let noted = client
        .put(format!("{}/{bucket}/ferry/multipart/dead", s3.endpoint))
        .body(note)
        .send()
        .await
        .unwrap();
    assert!(noted.status().is_success());

    let report = app
        .uploads
        .collect_leftovers(
            chrono::Utc::now() + Duration::from_secs(60),
            Duration::ZERO,
            LeftoverAction::DeleteNow,
        )
        .await
        .unwrap();

    let aborted: Vec<&str> = report
        .found
        .iter()
        .filter(|leftover| leftover.removed && leftover.kind.as_str() == "multipart-upload")
        .map(|leftover| leftover.key.as_str())
        .collect();
    assert_eq!(aborted, ["files/sha256/aaaa", "files/sha256/bbbb"]);
    assert_eq!(
        s3.unfinished_uploads(&bucket).await.len(),
        1,
        "only the upload ferry does not own"
    );
    assert!(
        !s3.keys(&bucket)
            .await
            .contains(&"ferry/multipart/dead".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_shorter_than_said_fails_the_compose_as_missing_and_leaves_nothing() {
    let bucket = counted_bucket().await;
    let data = test_bytes(15 * MIB, 75);
    let mut sources = bucket.chunks(&data, &[6 * MIB, 3 * MIB, 6 * MIB]).await;
    sources[1].size = 6 * MIB as u64;
    let key = file_key(&data);

    let composed = bucket.store.compose(&sources, &key, None).await;

    assert!(
        matches!(&composed, Err(PartsError::MissingPart(short)) if *short == sources[1].key),
        "{composed:?}"
    );
    assert!(!bucket.store.exists(&key).await.unwrap());
    bucket.nothing_unfinished().await;
}

//! The sweep clearing the lease of a deletion whose instance died: the
//! lease names the file's published object, which the sweep deletes. The
//! lease is held until that delete is done, so that an upload of the same
//! bytes meanwhile cannot publish a file whose object the sweep then
//! removes.

use std::sync::Arc;

use chrono::{Duration, Utc};
use ferry::ids::{ObjectKey, UploadId, WriteToken};
use ferry::meta::{Claim, MergeLease};
use ferry_proto::ContentHash;
use reqwest::StatusCode;

use crate::faulty_store::{Faults, FaultyStore};
use crate::helpers::{Backend, TestApp, sha256_hex, spawn_app_wrapped, test_bytes};

/// The upload id a deletion's merge lease carries.
const DELETION: &str = "00000000-0000-0000-0000-000000000000";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_uploaded_while_the_sweep_clears_a_dead_deletion_stays_whole() {
    let faults = Arc::new(Faults::default());
    let shared = faults.clone();
    let app = spawn_app_wrapped(
        Backend::Postgres,
        |_| {},
        move |store| FaultyStore::wrap(store, shared),
    )
    .await;
    let data = test_bytes(3000, 41);
    let sha = sha256_hex(&data);
    let now = Utc::now();
    let dead_deletion = MergeLease {
        sha256: ContentHash::parse(&sha).unwrap(),
        upload_id: UploadId::parse(DELETION).unwrap(),
        token: WriteToken::generate(),
        object_key: ObjectKey::parse(format!("files/sha256/{sha}")).unwrap(),
        lease_until: now - Duration::minutes(5),
    };
    let planted = app.meta.claim_merge(&dead_deletion, now).await.unwrap();
    assert!(matches!(planted, Claim::Claimed { .. }));

    faults.hold_next_file_delete();
    let sweep = tokio::spawn({
        let uploads = app.uploads.clone();
        async move { uploads.sweep(Utc::now()).await }
    });
    faults.file_delete_held().await;
    let during = app.put_file(&sha, &data).await;
    assert_eq!(
        during.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "the deletion still holds the hash while its object is deleted"
    );
    faults.release_file_delete();
    sweep.await.unwrap().unwrap();

    assert_eq!(
        published_once_free(&app, &sha, &data).await,
        StatusCode::CREATED
    );
    assert_eq!(app.downloaded(&sha).await, data);
}

/// Uploads `data` in one request until the hash is free: the sweep that
/// cleared the dead deletion (the test's own, or the one every server runs
/// at its start) lets the lease go just after its delete.
async fn published_once_free(app: &TestApp, sha: &str, data: &[u8]) -> StatusCode {
    for _ in 0..100 {
        let status = app.put_file(sha, data).await.status();
        if status != StatusCode::SERVICE_UNAVAILABLE {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    StatusCode::SERVICE_UNAVAILABLE
}

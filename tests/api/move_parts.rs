//! Files published in parts, as ferry published merged uploads before each
//! file became one object, move to their one object: the object checked,
//! the row switched, the parts deleted, and downloads the same bytes
//! before, during (an instance that still remembers the parts) and after;
//! a move cut off after writing the object ends the same when taken up
//! again; and every instance moves them in the background.

use std::time::Duration;

use chrono::Utc;
use ferry::blob::{BlobStore, ComposePart};
use ferry::meta::FileRecord;
use ferry::upload::MoveOutcome;
use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, sha256_hex, spawn_app, spawn_app_with, test_bytes};
use crate::parts_layout::publish_in_parts;

const CHUNK: usize = 4096;

/// A server that moves nothing on its own.
async fn app_moving_nothing(backend: Backend) -> TestApp {
    spawn_app_with(backend, |settings| settings.migrate_parts = false).await
}

/// The bytes of `range` of the file `sha` as served, with its status.
async fn served(app: &TestApp, sha: &str, range: Option<&str>) -> (StatusCode, bytes::Bytes) {
    let mut request = app.client.get(app.url(&format!("/v1/files/{sha}")));
    if let Some(range) = range {
        request = request.header("range", range);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.bytes().await.unwrap())
}

/// Asserts that every way of reading `data` answers it.
async fn assert_served(app: &TestApp, data: &[u8]) {
    let sha = sha256_hex(data);
    assert_eq!(
        served(app, &sha, None).await,
        (StatusCode::OK, data.to_vec().into())
    );
    let across = served(app, &sha, Some("bytes=4000-8000")).await;
    assert_eq!(
        across,
        (
            StatusCode::PARTIAL_CONTENT,
            data[4000..8001].to_vec().into()
        )
    );
}

/// Asserts that `old` is now its one object, named by its row.
async fn assert_moved(app: &TestApp, old: &FileRecord) {
    let sha = old.sha256.to_hex();
    let key = format!("files/sha256/{sha}");
    assert_eq!(
        app.stored_keys().await,
        std::slice::from_ref(&key),
        "one object, the parts gone"
    );
    let row = app.meta.find_file(&old.sha256).await.unwrap().unwrap();
    assert_eq!(row.object_key.as_str(), key);
    assert_eq!(row.part_size, None);
    assert_eq!((row.size, &row.content_type), (old.size, &old.content_type));
    assert_eq!(app.uploads.files_in_parts().await.unwrap(), 0);
}

async fn a_file_in_parts_moves_to_one_object_and_serves_the_same_bytes(backend: Backend) {
    let app = app_moving_nothing(backend).await;
    let data = test_bytes(3 * CHUNK + 100, 81);
    let old = publish_in_parts(
        app.meta.as_ref(),
        &app.blobs,
        &data,
        CHUNK,
        Some("video/mp4"),
    )
    .await;
    assert_eq!(app.stored_keys().await.len(), 4, "four parts");
    assert_served(&app, &data).await;

    let moved = app
        .uploads
        .move_one_file()
        .await
        .unwrap()
        .expect("a file to move");

    assert_eq!(moved.outcome, MoveOutcome::Moved);
    assert_eq!(moved.sha256, old.sha256);
    assert_moved(&app, &old).await;
    assert_served(&app, &data).await;
    assert_eq!(
        app.uploads.move_one_file().await.unwrap(),
        None,
        "nothing left"
    );
}

async fn a_move_cut_off_after_writing_the_object_ends_the_same(backend: Backend) {
    let app = app_moving_nothing(backend).await;
    let data = test_bytes(2 * CHUNK + 7, 82);
    let old = publish_in_parts(app.meta.as_ref(), &app.blobs, &data, CHUNK, None).await;
    let parts: Vec<ComposePart> = (0..3)
        .map(|index| ComposePart {
            key: BlobStore::part_key(&old.object_key, index),
            size: (data.len() as u64 - index * CHUNK as u64).min(CHUNK as u64),
        })
        .collect();
    let key = BlobStore::published_key(&old.sha256);
    app.blobs.compose(&parts, &key, None).await.unwrap();
    let past = Utc::now() - chrono::Duration::minutes(30);
    let dead = app.meta.claim_file_move(past, past).await.unwrap();
    assert_eq!(
        dead.map(|file| file.sha256),
        Some(old.sha256),
        "a dead instance's claim"
    );
    assert_served(&app, &data).await;

    let moved = app
        .uploads
        .move_one_file()
        .await
        .unwrap()
        .expect("the lapsed move");

    assert_eq!(moved.outcome, MoveOutcome::Moved);
    assert_moved(&app, &old).await;
    assert_served(&app, &data).await;
}

async fn a_move_with_a_part_gone_leaves_the_file_as_it_was(backend: Backend) {
    let app = app_moving_nothing(backend).await;
    let data = test_bytes(2 * CHUNK, 83);
    let old = publish_in_parts(app.meta.as_ref(), &app.blobs, &data, CHUNK, None).await;
    app.blobs
        .delete(&BlobStore::part_key(&old.object_key, 1))
        .await
        .unwrap();

    let moved = app
        .uploads
        .move_one_file()
        .await
        .unwrap()
        .expect("a file to move");

    assert!(matches!(moved.outcome, MoveOutcome::Failed(_)), "{moved:?}");
    let row = app.meta.find_file(&old.sha256).await.unwrap().unwrap();
    assert_eq!(row, old, "the row still names the parts");
    let keys = app.stored_keys().await;
    assert_eq!(keys, [BlobStore::part_key(&old.object_key, 0).to_string()]);
    assert_eq!(
        app.uploads.move_one_file().await.unwrap(),
        None,
        "claimed until it lapses"
    );
}

async fn every_instance_moves_files_in_parts_in_the_background(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        settings.sweep_interval = Duration::from_millis(50);
    })
    .await;
    let data = test_bytes(2 * CHUNK + 1, 84);
    let old = publish_in_parts(app.meta.as_ref(), &app.blobs, &data, CHUNK, None).await;
    let one_object = [format!("files/sha256/{}", old.sha256)];
    let patience = std::time::Instant::now() + Duration::from_secs(20);
    while app.uploads.files_in_parts().await.unwrap() > 0 || app.stored_keys().await != one_object {
        assert!(
            std::time::Instant::now() < patience,
            "the file was not moved"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_moved(&app, &old).await;
    assert_served(&app, &data).await;
}

async fn a_new_upload_of_a_file_in_parts_moves_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(2 * CHUNK + 3, 85);
    let old = publish_in_parts(app.meta.as_ref(), &app.blobs, &data, CHUNK, None).await;
    app.blobs
        .delete(&BlobStore::part_key(&old.object_key, 0))
        .await
        .unwrap();
    let sha = sha256_hex(&data);
    assert_eq!(
        app.put_file(&sha, &data).await.status(),
        StatusCode::OK,
        "a repair"
    );
    assert_moved(&app, &old).await;
    assert_served(&app, &data).await;
}

on_both_backends!(
    a_file_in_parts_moves_to_one_object_and_serves_the_same_bytes,
    a_move_cut_off_after_writing_the_object_ends_the_same,
    a_move_with_a_part_gone_leaves_the_file_as_it_was,
    every_instance_moves_files_in_parts_in_the_background,
    a_new_upload_of_a_file_in_parts_moves_it,
);

//! The object store and its database are bound to each other: a server
//! whose two disagree refuses to start and changes nothing; leftovers are
//! deleted only after their quarantine or on command, never because a row
//! is missing once; and a file whose object went missing is repaired by
//! uploading its bytes again.

use std::time::Duration;

use chrono::{SubsecRound, Utc};
use ferry::blob::BlobStore;
use ferry::config::{DownloadAccess, InstantUploadMode};
use ferry::ids::{ObjectKey, WriteToken};
use ferry::meta::FileRecord;
use ferry::startup::Application;
use ferry::upload::{LeftoverAction, LeftoverKind};
use ferry_proto::ContentHash;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::databases::{self, TestDatabase};
use crate::helpers::{
    Backend, TestApp, sha256_hex, spawn_app, spawn_app_with, test_bytes, test_settings, with_tokens,
};

fn database_backend(backend: Backend) -> databases::Backend {
    match backend {
        Backend::Sqlite => databases::Backend::Sqlite,
        Backend::Postgres | Backend::PostgresS3 => databases::Backend::Postgres,
    }
}

/// Tries to start a second server over `app`'s object store with a new,
/// empty database: what a mistyped `DATABASE_URL` does.
async fn start_with_another_database(app: &TestApp, backend: Backend) -> String {
    let database = TestDatabase::create(database_backend(backend)).await;
    let started =
        Application::build_with(test_settings(), database.meta().await, app.blobs.clone()).await;
    match started {
        Ok(_) => panic!("a server started over another database's store"),
        Err(error) => format!("{error:#}"),
    }
}

async fn a_store_refuses_a_database_it_does_not_belong_to(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(5000, 100);
    let sha = sha256_hex(&data);
    app.upload(&data, 1024).await;
    let stray = ObjectKey::parse(format!("files/{sha}/{}", WriteToken::generate())).unwrap();
    write(&app, &stray, b"a merge cut off by a crash").await;
    let stored = app.stored_keys().await;

    let refusal = start_with_another_database(&app, backend).await;
    assert!(refusal.contains("belongs to another database"), "{refusal}");
    assert!(refusal.contains("ferryd store bind"), "{refusal}");
    assert!(refusal.contains("Nothing was changed"), "{refusal}");
    assert_eq!(app.stored_keys().await, stored, "the store is as it was");
    assert_eq!(app.downloaded(&sha).await, data);
}

/// Starts a second server over `app`'s database and store, as another
/// instance or a restart does; whether it started, or why not.
async fn start_again(app: &TestApp) -> Result<(), String> {
    let started =
        Application::build_with(test_settings(), app.meta.clone(), app.blobs.clone()).await;
    started.map(drop).map_err(|error| format!("{error:#}"))
}

async fn a_binding_cut_short_is_finished_when_the_store_holds_the_files(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(3000, 105);
    app.upload(&data, 1024).await;
    let identity = app.blobs.identity().await.unwrap().expect("a bound store");
    let marker = ObjectKey::parse("ferry-store.json").unwrap();
    app.blobs.delete(&marker).await.unwrap();
    start_again(&app).await.expect("the binding is finished");
    assert_eq!(app.blobs.identity().await.unwrap(), Some(identity));
    assert_eq!(app.downloaded(&sha256_hex(&data)).await, data);
}

async fn a_bound_database_refuses_an_empty_store(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(3000, 106);
    app.upload(&data, 1024).await;
    let folder = tempfile::tempdir().unwrap();
    let empty = match backend {
        Backend::Sqlite => BlobStore::open(&folder.path().display().to_string()).unwrap(),
        Backend::Postgres | Backend::PostgresS3 => BlobStore::open("memory://").unwrap(),
    };
    let started = Application::build_with(test_settings(), app.meta.clone(), empty.clone()).await;
    let refusal = format!("{:#}", started.err().expect("a refusal"));
    assert!(refusal.contains("carries no identity"), "{refusal}");
    assert_eq!(empty.identity().await.unwrap(), None, "nothing was written");
}

async fn leftovers_are_deleted_only_after_their_quarantine(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(3000, 101);
    let sha = sha256_hex(&data);
    app.upload(&data, 1024).await;
    let stray = ObjectKey::parse(format!("files/{sha}/{}", WriteToken::generate())).unwrap();
    write(&app, &stray, b"never published").await;
    let crashed = ObjectKey::parse("chunks/7d1b3f0e-1c1a-4b5e-9a43-5ad7c1e0a001/0.t").unwrap();
    write(&app, &crashed, b"a chunk of a session that is gone").await;
    let week = Duration::from_secs(7 * 24 * 3600);
    let now = Utc::now() + chrono::Duration::seconds(5);

    let listed = app
        .uploads
        .collect_leftovers(now, Duration::ZERO, LeftoverAction::List)
        .await
        .unwrap();
    let mut kinds: Vec<(LeftoverKind, String)> = listed
        .found
        .iter()
        .map(|leftover| (leftover.kind, leftover.key.clone()))
        .collect();
    kinds.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        kinds,
        [
            (
                LeftoverKind::ChunkFolder,
                "chunks/7d1b3f0e-1c1a-4b5e-9a43-5ad7c1e0a001/".to_owned()
            ),
            (LeftoverKind::File, stray.to_string()),
        ]
    );
    assert_eq!(listed.removed(), 0, "a dry run deletes nothing");

    for days_later in [0, 3, 6] {
        let at = now + chrono::Duration::days(days_later);
        let report = app
            .uploads
            .collect_leftovers(at, Duration::ZERO, LeftoverAction::Quarantine(week))
            .await
            .unwrap();
        assert_eq!(
            (report.found.len(), report.removed()),
            (2, 0),
            "day {days_later}"
        );
        assert!(
            report
                .found
                .iter()
                .all(|leftover| leftover.first_noted.is_some())
        );
        assert!(app.blobs.exists(&stray).await.unwrap());
        assert!(app.blobs.exists(&crashed).await.unwrap());
    }
    let report = app
        .uploads
        .collect_leftovers(
            now + chrono::Duration::days(7),
            Duration::ZERO,
            LeftoverAction::Quarantine(week),
        )
        .await
        .unwrap();
    assert_eq!(report.removed(), 2);
    assert!(!app.blobs.exists(&stray).await.unwrap());
    assert!(!app.blobs.exists(&crashed).await.unwrap());
    assert_eq!(app.downloaded(&sha).await, data, "the published file stays");
}

async fn an_orphan_needed_again_starts_its_quarantine_over(backend: Backend) {
    let app = spawn_app(backend).await;
    let week = Duration::from_secs(7 * 24 * 3600);
    let stray = ObjectKey::parse(format!("files/direct/{}", WriteToken::generate())).unwrap();
    write(&app, &stray, b"x").await;
    let now = Utc::now() + chrono::Duration::seconds(5);
    let quarantine = LeftoverAction::Quarantine(week);
    let first = app
        .uploads
        .collect_leftovers(now, Duration::ZERO, quarantine)
        .await
        .unwrap();
    assert_eq!(first.found.len(), 1);
    app.blobs.delete(&stray).await.unwrap();
    let gone = app
        .uploads
        .collect_leftovers(now + chrono::Duration::days(1), Duration::ZERO, quarantine)
        .await
        .unwrap();
    assert!(gone.found.is_empty());
    write(&app, &stray, b"x").await;
    let back = app
        .uploads
        .collect_leftovers(now + chrono::Duration::days(8), Duration::ZERO, quarantine)
        .await
        .unwrap();
    assert_eq!(back.found.len(), 1);
    assert_eq!(
        back.removed(),
        0,
        "found again today, it waits a week again"
    );
    let noted = back.found[0].first_noted.expect("noted");
    let found_again = now + chrono::Duration::days(8);
    assert!(
        (found_again - noted).abs() < chrono::Duration::milliseconds(1),
        "first noted {noted}, found again {found_again}"
    );
}

async fn an_orphan_a_row_comes_to_need_is_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let week = Duration::from_secs(7 * 24 * 3600);
    let data = test_bytes(300, 107);
    let key = ObjectKey::parse(format!("files/direct/{}", WriteToken::generate())).unwrap();
    let body = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(data.clone()))]);
    app.blobs.write(&key, body, 1 << 20).await.unwrap();
    let now = Utc::now() + chrono::Duration::seconds(5);
    let quarantine = LeftoverAction::Quarantine(week);
    let noted = app
        .uploads
        .collect_leftovers(now, Duration::ZERO, quarantine)
        .await
        .unwrap();
    assert_eq!(noted.found.len(), 1);
    let file = FileRecord {
        sha256: ContentHash::parse(&sha256_hex(&data)).unwrap(),
        size: 300,
        content_type: None,
        object_key: key.clone(),
        part_size: None,
        published_at: Utc::now().trunc_subsecs(0),
    };
    app.meta.insert_file(&file).await.unwrap();
    let later = app
        .uploads
        .collect_leftovers(now + chrono::Duration::days(8), Duration::ZERO, quarantine)
        .await
        .unwrap();
    assert!(later.found.is_empty(), "{later:?}");
    assert!(app.blobs.exists(&key).await.unwrap());
    assert_eq!(app.downloaded(&sha256_hex(&data)).await, data);
}

async fn the_chunk_folder_of_a_finished_session_goes_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(3000, 108);
    let sha = ContentHash::parse(&sha256_hex(&data)).unwrap();
    app.upload(&data, 1024).await;
    let session = app
        .meta
        .find_session(&ferry::ids::OwnerId::anonymous(), &sha)
        .await
        .unwrap()
        .expect("the completed session");
    let left = ObjectKey::parse(format!("chunks/{}/0.t", session.id)).unwrap();
    write(&app, &left, b"a chunk whose delete failed").await;
    let week = Duration::from_secs(7 * 24 * 3600);
    let now = Utc::now() + chrono::Duration::seconds(5);
    let report = app
        .uploads
        .collect_leftovers(now, Duration::ZERO, LeftoverAction::Quarantine(week))
        .await
        .unwrap();
    assert_eq!(report.removed(), 1, "{report:?}");
    assert!(!app.blobs.exists(&left).await.unwrap());
    assert_eq!(app.downloaded(&sha256_hex(&data)).await, data);
}

async fn one_instance_at_a_time_lists_the_store(backend: Backend) {
    let app = spawn_app(backend).await;
    let hour = Duration::from_secs(3600);
    let first = app.uploads.sweep_leftovers(hour, None).await.unwrap();
    assert!(first.is_some(), "the first listing is taken");
    let second = app.uploads.sweep_leftovers(hour, None).await.unwrap();
    assert!(second.is_none(), "another listing within the hour is not");
}

async fn a_file_whose_object_is_missing_is_repaired_by_uploading_it_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let direct = test_bytes(3000, 102);
    let chunked = test_bytes(5000, 103);
    let put = app.put_file(&sha256_hex(&direct), &direct).await;
    assert_eq!(put.status(), StatusCode::CREATED);
    app.upload(&chunked, 1024).await;
    for data in [&direct, &chunked] {
        lose_object(&app, data).await;
        let answer = app.download(&sha256_hex(data)).await;
        assert!(answer.status().is_server_error(), "{}", answer.status());
    }

    let again = app.put_file(&sha256_hex(&direct), &direct).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(app.downloaded(&sha256_hex(&direct)).await, direct);

    let sha = sha256_hex(&chunked);
    let created = app
        .create(json!({"sha256": sha, "size": 5000, "chunk_size": 1024}))
        .await;
    assert_eq!(
        created.status(),
        StatusCode::CREATED,
        "no instant upload of a file that cannot be served"
    );
    for index in 0..5 {
        app.send_chunk(&chunked, 1024, index).await;
    }
    let done = app.complete(&sha).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(app.downloaded(&sha).await, chunked);
    let instant: Value = app
        .create(json!({"sha256": sha, "size": 5000}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        instant["status"], "complete",
        "whole again, it is instant again"
    );
}

/// With instant upload off, the repaired copy is the one sent by chunks.
async fn a_missing_object_is_repaired_with_instant_upload_off(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        with_tokens(settings);
        settings.security.downloads = DownloadAccess::Signed;
        settings.security.download_key = Some("a download key of the test".to_owned().into());
        settings.security.instant_upload = Some(InstantUploadMode::Off);
    })
    .await;
    let data = test_bytes(4000, 104);
    let alice = app.as_owner("alice");
    alice.upload(&data, 1024).await;
    lose_object(&app, &data).await;
    let done = app.as_owner("bob").upload(&data, 1024).await;
    let url = done["file"]["url"].as_str().unwrap();
    let fetched = app.client.get(app.url(url)).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap(), data);
}

/// Deletes the object of the published file holding `data`, as a store
/// restored from an older backup or a deleted folder would lose it.
async fn lose_object(app: &TestApp, data: &[u8]) {
    let sha = ContentHash::parse(&sha256_hex(data)).unwrap();
    let file = app
        .meta
        .find_file(&sha)
        .await
        .unwrap()
        .expect("a published file");
    app.blobs.delete_file(&file.object_key).await.unwrap();
    if file.part_size.is_none() {
        app.blobs.delete(&file.object_key).await.unwrap();
    }
}

async fn write(app: &TestApp, key: &ObjectKey, bytes: &'static [u8]) {
    let body = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(bytes))]);
    app.blobs.write(key, body, 1 << 20).await.unwrap();
}

on_both_backends!(
    a_store_refuses_a_database_it_does_not_belong_to,
    a_binding_cut_short_is_finished_when_the_store_holds_the_files,
    a_bound_database_refuses_an_empty_store,
    an_orphan_a_row_comes_to_need_is_kept,
    the_chunk_folder_of_a_finished_session_goes_at_once,
    leftovers_are_deleted_only_after_their_quarantine,
    an_orphan_needed_again_starts_its_quarantine_over,
    one_instance_at_a_time_lists_the_store,
    a_file_whose_object_is_missing_is_repaired_by_uploading_it_again,
    a_missing_object_is_repaired_with_instant_upload_off,
);

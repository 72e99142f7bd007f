//! Creating, resuming, inspecting, aborting and expiring upload sessions.

use chrono::Utc;
use ferry::ids::{ObjectKey, OwnerId, WriteToken};
use reqwest::StatusCode;
use serde_json::json;

use ferry::upload::{Created, LeftoverAction, UploadError};
use ferry_proto::CreateUpload;

use crate::helpers::{Backend, assert_error, sha256_hex, spawn_app, spawn_app_with, test_bytes};

async fn a_new_upload_is_created_with_the_chunk_plan(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(10_000, 1);
    let response = app
        .create(json!({"sha256": sha256_hex(&data).to_uppercase(), "size": 10_000,
                       "chunk_size": 4096, "filename": "课程 第1讲.mp4", "content_type": "video/mp4"}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let upload: serde_json::Value = response.json().await.unwrap();
    assert_eq!(upload["sha256"], sha256_hex(&data));
    assert_eq!(upload["chunk_size"], 4096);
    assert_eq!(upload["chunk_count"], 3);
    assert_eq!(upload["status"], "uploading");
    assert_eq!(upload["received_chunks"], json!([]));
    assert_eq!(upload["received_bytes"], 0);
    assert_eq!(upload["filename"], "课程 第1讲.mp4");
    assert_eq!(upload["content_type"], "video/mp4");
    assert!(upload["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(upload["file"], json!(null));
}

async fn creating_again_resumes_with_the_chunks_received(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(10_000, 2);
    app.create_for(&data, 2048).await;
    for index in [0, 1, 3] {
        app.send_chunk(&data, 2048, index).await;
    }
    let response = app
        .create(json!({"sha256": sha256_hex(&data), "size": 10_000, "chunk_size": 4096}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let upload: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        upload["chunk_size"], 2048,
        "the session keeps its chunk size"
    );
    assert_eq!(upload["received_chunks"], json!([[0, 1], [3, 3]]));
    assert_eq!(upload["received_bytes"], 3 * 2048);
    app.send_chunk(&data, 2048, 2).await;
    app.send_chunk(&data, 2048, 4).await;
    let done = app.complete(&sha256_hex(&data)).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(app.downloaded(&sha256_hex(&data)).await, data);
}

async fn a_published_file_uploads_instantly(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(5000, 3);
    app.upload(&data, 1024).await;
    let response = app
        .create(json!({"sha256": sha256_hex(&data), "size": 5000, "filename": "again.bin"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let upload: serde_json::Value = response.json().await.unwrap();
    assert_eq!(upload["status"], "complete");
    assert_eq!(upload["received_bytes"], 5000);
    assert_eq!(upload["file"]["sha256"], sha256_hex(&data));
    assert_eq!(upload["file"]["size"], 5000);
    let url = format!("/v1/files/{}/again.bin", sha256_hex(&data));
    assert_eq!(upload["file"]["url"], url);
    let fetched = app.client.get(app.url(&url)).send().await.unwrap();
    assert_eq!(fetched.bytes().await.unwrap(), data);
}

async fn a_published_hash_with_another_size_is_a_size_mismatch(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(3000, 4);
    app.upload(&data, 1024).await;
    let response = app
        .create(json!({"sha256": sha256_hex(&data), "size": 3001}))
        .await;
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "size-mismatch").await;
}

async fn a_live_session_with_another_size_is_a_conflict(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(3000, 5);
    app.create_for(&data, 1024).await;
    let response = app
        .create(json!({"sha256": sha256_hex(&data), "size": 4000}))
        .await;
    assert_error(response, StatusCode::CONFLICT, "upload-conflict").await;
}

async fn malformed_creates_are_refused_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases = [
        (json!({"sha256": "abc", "size": 1}), "sha256"),
        (json!({"sha256": "z".repeat(64), "size": 1}), "sha256"),
        (json!({"sha256": "a".repeat(64), "size": -1}), "size"),
        (json!({"sha256": "a".repeat(64)}), "size"),
        (
            json!({"sha256": "a".repeat(64), "size": 1, "chunk_size": 0}),
            "chunk_size",
        ),
        (
            json!({"sha256": "a".repeat(64), "size": 1, "filename": "a/b"}),
            "filename",
        ),
        (
            json!({"sha256": "a".repeat(64), "size": 1, "content_type": "nope"}),
            "content_type",
        ),
        (
            json!({"sha256": "a".repeat(64), "size": 1, "owner": "x"}),
            "owner",
        ),
    ];
    for (body, field) in cases {
        let response = app.create(body.clone()).await;
        let error = assert_error(response, StatusCode::BAD_REQUEST, "invalid-request").await;
        assert_eq!(error["field"], field, "for {body}");
    }
    let response = app
        .client
        .post(app.url("/v1/uploads"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid-request").await;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let body = json!({"sha256": "a".repeat(64), "size": 10}).to_string();
        let mut request = app.client.post(app.url("/v1/uploads")).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_error(
            response,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
        )
        .await;
    }
    let response = app.progress(&"a".repeat(64)).await;
    assert_error(response, StatusCode::NOT_FOUND, "upload-not-found").await;
    let response = app.progress(&"a".repeat(64)).await;
    assert_error(response, StatusCode::NOT_FOUND, "upload-not-found").await;
}

async fn a_size_written_with_a_zero_fraction_is_the_whole_number_it_is(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(3000, 3);
    let sha = sha256_hex(&data);
    let mut statuses = Vec::new();
    for (size, chunk_size) in [("3000.0", "1024.0"), ("3e3", "1.024e3"), ("3000", "1024")] {
        let body = format!(r#"{{"sha256":"{sha}","size":{size},"chunk_size":{chunk_size}}}"#);
        let response = app
            .client
            .post(app.url("/v1/uploads"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
        let upload: serde_json::Value = response.json().await.unwrap();
        assert_eq!(upload["size"], 3000, "{size}");
        assert_eq!(upload["chunk_size"], 1024, "{chunk_size}");
        assert_eq!(upload["chunk_count"], 3);
    }
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::OK, StatusCode::OK],
        "one session, resumed however its size is written"
    );
}

async fn a_file_over_the_size_limit_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .create(json!({"sha256": "a".repeat(64), "size": (1u64 << 30) + 1}))
        .await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "file-too-large").await;
}

async fn the_chunk_size_is_clamped_and_raised_to_keep_the_count_in_bounds(backend: Backend) {
    let app = spawn_app(backend).await;
    let small = app
        .create(json!({"sha256": "b".repeat(64), "size": 100_000, "chunk_size": 1}))
        .await;
    let small: serde_json::Value = small.json().await.unwrap();
    assert_eq!(small["chunk_size"], 1024);
    let many = app
        .create(json!({"sha256": "c".repeat(64), "size": 1u64 << 30, "chunk_size": 1024}))
        .await;
    let many: serde_json::Value = many.json().await.unwrap();
    assert!(many["chunk_count"].as_u64().unwrap() <= 10_000);
    assert_eq!(many["chunk_size"], (1u64 << 30).div_ceil(10_000));
}

async fn abort_removes_the_session_and_its_chunks(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(4096, 6);
    let sha = sha256_hex(&data);
    app.create_for(&data, 1024).await;
    app.send_chunk(&data, 1024, 0).await;
    let response = app.abort(&sha).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.progress(&sha).await,
        StatusCode::NOT_FOUND,
        "upload-not-found",
    )
    .await;
    app.assert_store_empty().await;
    let again = app.abort(&sha).await;
    assert_error(again, StatusCode::NOT_FOUND, "upload-not-found").await;
    let fresh = app.create(json!({"sha256": sha, "size": 4096})).await;
    assert_eq!(fresh.status(), StatusCode::CREATED);
}

async fn aborting_a_complete_upload_keeps_the_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(2048, 7);
    let sha = sha256_hex(&data);
    app.upload(&data, 1024).await;
    let response = app.abort(&sha).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.progress(&sha).await,
        StatusCode::NOT_FOUND,
        "upload-not-found",
    )
    .await;
    assert_eq!(app.downloaded(&sha).await, data);
    let instant = app.create(json!({"sha256": sha, "size": 2048})).await;
    assert_eq!(instant.status(), StatusCode::OK);
}

async fn the_sweep_removes_expired_sessions_and_their_chunks(backend: Backend) {
    let app = spawn_app(backend).await;
    let stale = test_bytes(3000, 8);
    let fresh = test_bytes(3000, 9);
    app.create_for(&stale, 1024).await;
    app.send_chunk(&stale, 1024, 0).await;
    app.create_for(&fresh, 1024).await;
    let later = Utc::now() + chrono::Duration::hours(25);
    app.create_for(&test_bytes(10, 10), 1024).await;
    let report = app.uploads.sweep(later).await.unwrap();
    assert_eq!(report.expired_sessions, 3);
    app.assert_store_empty().await;
    assert_error(
        app.progress(&sha256_hex(&stale)).await,
        StatusCode::NOT_FOUND,
        "upload-not-found",
    )
    .await;
    let report = app.uploads.sweep(Utc::now()).await.unwrap();
    assert_eq!(report.expired_sessions, 0, "nothing live is swept");
}

async fn an_expired_session_is_gone_and_replaced_by_a_fresh_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(3000, 11);
    let sha = sha256_hex(&data);
    app.create_for(&data, 1024).await;
    app.send_chunk(&data, 1024, 0).await;
    let hash = sha.parse().unwrap();
    let later = Utc::now() + chrono::Duration::hours(25);
    let gone = app
        .uploads
        .progress(&OwnerId::anonymous(), &hash, later)
        .await;
    assert!(matches!(gone, Err(UploadError::UploadNotFound)), "{gone:?}");
    let request = CreateUpload {
        sha256: sha.clone(),
        size: 3000,
        chunk_size: Some(1024),
        filename: None,
        content_type: None,
        proof: None,
    };
    let (created, upload) = app
        .uploads
        .create(&OwnerId::anonymous(), request, later, None)
        .await
        .unwrap();
    assert_eq!(created, Created::New);
    assert!(upload.received_chunks.is_empty());
}

async fn leftovers_no_row_points_at_are_collected_and_nothing_else(backend: Backend) {
    let app = spawn_app(backend).await;
    let live = test_bytes(2048, 12);
    app.create_for(&live, 1024).await;
    app.send_chunk(&live, 1024, 0).await;
    let published = test_bytes(500, 13);
    let put = app
        .client
        .put(app.url(&format!("/v1/files/{}", sha256_hex(&published))))
        .body(published.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED);
    let blobs = &app.blobs;
    let crashed = ObjectKey::parse("chunks/session-that-crashed/0.t").unwrap();
    let never_published = ObjectKey::parse("files/direct/never-published").unwrap();
    let stray = |bytes: &'static [u8]| {
        futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(bytes))])
    };
    blobs.write(&crashed, stray(b"a"), 10).await.unwrap();
    blobs
        .write(&never_published, stray(b"b"), 10)
        .await
        .unwrap();

    let later = Utc::now() + chrono::Duration::seconds(5);
    let removed = app
        .uploads
        .collect_leftovers(later, std::time::Duration::ZERO, LeftoverAction::DeleteNow)
        .await
        .unwrap()
        .removed();
    assert_eq!(removed, 2);
    assert!(!blobs.exists(&crashed).await.unwrap());
    assert!(!blobs.exists(&never_published).await.unwrap());
    app.send_chunk(&live, 1024, 1).await;
    assert_eq!(
        app.complete(&sha256_hex(&live)).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.downloaded(&sha256_hex(&live)).await, live);
    assert_eq!(app.downloaded(&sha256_hex(&published)).await, published);

    let dead_merge = format!(
        "files/sha256/{}.{}",
        sha256_hex(&live),
        WriteToken::generate()
    );
    let key = ObjectKey::parse(dead_merge.clone()).unwrap();
    blobs.write(&key, stray(b"c"), 10).await.unwrap();
    let later = Utc::now() + chrono::Duration::seconds(5);
    let removed = app
        .uploads
        .collect_leftovers(later, std::time::Duration::ZERO, LeftoverAction::DeleteNow)
        .await
        .unwrap()
        .removed();
    assert_eq!(removed, 1, "the temporary file of a dead merge");
    let keys = app.stored_keys().await;
    assert!(!keys.contains(&dead_merge), "{keys:?}");
    assert_eq!(
        app.downloaded(&sha256_hex(&live)).await,
        live,
        "the object of a published file stays"
    );
}

async fn paths_with_doubled_or_trailing_slashes_reach_their_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(3000, 14);
    let sha = sha256_hex(&data);
    app.upload(&data, 1024).await;
    for path in [
        format!("/v1/uploads/{sha}/"),
        format!("//v1//uploads/{sha}"),
        format!("/v1/uploads///{sha}//"),
    ] {
        let response = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let upload: serde_json::Value = response.json().await.unwrap();
        assert_eq!(upload["status"], "complete", "{path}");
    }
    let response = app
        .client
        .get(app.url(&format!("/v1/files/{sha}//notes.txt/?inline=1")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let disposition = response.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("inline") && disposition.contains("notes.txt"),
        "the query and the name survive: {disposition}"
    );
    assert_eq!(response.bytes().await.unwrap(), data);
}

async fn unknown_routes_and_methods_answer_json(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.client.get(app.url("/v2/nothing")).send().await.unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "not-found").await;
    let response = app
        .client
        .patch(app.url("/v1/uploads"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    assert_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
    )
    .await;
    let response = app
        .client
        .patch(app.url(&format!("/v1/files/{}", "a".repeat(64))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, HEAD, PUT, DELETE");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}

async fn the_served_document_carries_this_servers_limits(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        settings.max_file_size = 3 << 30;
        settings.max_chunks = 1234;
        settings.direct_upload_max = 5 << 20;
    })
    .await;
    let response = app
        .client
        .get(app.url("/v1/openapi.yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/yaml");
    let document = response.text().await.unwrap();
    assert!(document.starts_with("openapi: 3.1.0\n"));
    assert!(document.contains(&format!("maximum: {}\n", 3u64 << 30)));
    assert!(document.contains("maximum: 1233 }"));
    assert!(document.contains(&format!("maxLength: {} }}", 5u64 << 20)));
}

on_both_backends!(
    the_served_document_carries_this_servers_limits,
    a_new_upload_is_created_with_the_chunk_plan,
    creating_again_resumes_with_the_chunks_received,
    a_published_file_uploads_instantly,
    a_published_hash_with_another_size_is_a_size_mismatch,
    a_live_session_with_another_size_is_a_conflict,
    malformed_creates_are_refused_naming_the_field,
    a_size_written_with_a_zero_fraction_is_the_whole_number_it_is,
    a_file_over_the_size_limit_is_refused,
    the_chunk_size_is_clamped_and_raised_to_keep_the_count_in_bounds,
    abort_removes_the_session_and_its_chunks,
    aborting_a_complete_upload_keeps_the_file,
    the_sweep_removes_expired_sessions_and_their_chunks,
    an_expired_session_is_gone_and_replaced_by_a_fresh_one,
    leftovers_no_row_points_at_are_collected_and_nothing_else,
    paths_with_doubled_or_trailing_slashes_reach_their_route,
    unknown_routes_and_methods_answer_json,
);

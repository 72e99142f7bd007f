//! `/metrics` moves with what clients do: uploads, instant uploads, refused
//! bytes, downloads and credentials, each counted by this server alone and
//! labelled by route pattern, never by hash.

use ferry::blob::BlobStore;
use ferry::ids::OwnerId;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    Backend, assert_error, scrape, sha256_hex, spawn_app, spawn_app_with, test_bytes, with_tokens,
};

async fn an_upload_counts_its_session_chunks_bytes_merge_and_requests(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(3000, 1);
    let sha = sha256_hex(&data);
    app.create_for(&data, 1024).await;
    app.send_chunk(&data, 1024, 0).await;
    let again = app
        .create(json!({"sha256": sha, "size": 3000, "chunk_size": 1024}))
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    app.send_chunk(&data, 1024, 1).await;
    app.send_chunk(&data, 1024, 2).await;
    assert_eq!(app.complete(&sha).await.status(), StatusCode::OK);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    let metrics = scrape(&app).await;
    assert_eq!(metrics.value("ferry_ready"), 1.0);
    assert_eq!(metrics.value("ferry_uploads_created_total"), 1.0);
    assert_eq!(metrics.value("ferry_uploads_resumed_total"), 1.0);
    assert_eq!(metrics.value("ferry_uploads_completed_total"), 1.0);
    assert_eq!(metrics.value("ferry_uploads_failed_total"), 0.0);
    assert_eq!(metrics.value("ferry_chunks_received_total"), 3.0);
    assert_eq!(metrics.value("ferry_received_bytes_total"), 3000.0);
    assert_eq!(
        metrics.value("ferry_merges_total{outcome=\"published\"}"),
        1.0
    );
    assert_eq!(metrics.value("ferry_merge_duration_seconds_count"), 1.0);
    assert_eq!(metrics.value("ferry_merges_in_flight"), 0.0);
    assert_eq!(
        metrics.requests("/v1/uploads/{sha256}/chunks/{index}", "PUT", 200),
        3.0
    );
    assert_eq!(metrics.requests("/v1/uploads", "POST", 201), 1.0);
    assert_eq!(metrics.requests("/v1/uploads", "POST", 200), 1.0);
    assert_eq!(
        metrics.requests("/v1/uploads/{sha256}/complete", "POST", 200),
        1.0
    );
    assert_eq!(
        metrics.value(
            "ferry_http_request_duration_seconds_count{route=\"/v1/uploads/{sha256}/chunks/{index}\",method=\"PUT\"}"
        ),
        3.0
    );
    assert!(
        !metrics.0.contains(&sha),
        "a hash is a label: {}",
        metrics.0
    );
    assert!(metrics.0.contains("\nferry_db_connections_in_use "));
}

async fn an_instant_upload_is_a_dedup_hit(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(3000, 2);
    let sha = sha256_hex(&data);
    app.upload(&data, 1024).await;
    let before = scrape(&app).await;

    let again = app
        .create(json!({"sha256": sha, "size": 3000, "chunk_size": 1024}))
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    let direct = app.put_file(&sha, &data).await;
    assert_eq!(direct.status(), StatusCode::OK);

    let after = scrape(&app).await;
    assert_eq!(after.value("ferry_uploads_instant_total"), 2.0);
    for unmoved in [
        "ferry_uploads_created_total",
        "ferry_uploads_completed_total",
        "ferry_chunks_received_total",
        "ferry_merge_duration_seconds_count",
    ] {
        assert_eq!(after.value(unmoved), before.value(unmoved), "{unmoved}");
    }
}

async fn refused_bytes_count_as_digest_and_hash_mismatches(backend: Backend) {
    let app = spawn_app(backend).await;
    let claimed = test_bytes(2048, 3);
    let sent = test_bytes(2048, 4);
    let sha = sha256_hex(&claimed);
    app.create_for(&claimed, 1024).await;
    let wrong_digest = app
        .client
        .put(app.url(&format!("/v1/uploads/{sha}/chunks/0")))
        .header("x-chunk-sha256", sha256_hex(b"not these bytes"))
        .body(sent[..1024].to_vec())
        .send()
        .await
        .unwrap();
    assert_error(wrong_digest, StatusCode::BAD_REQUEST, "digest-mismatch").await;
    for index in 0..2 {
        let piece = sent[index * 1024..(index + 1) * 1024].to_vec();
        let response = app.put_chunk(&sha, index, piece).await;
        assert_eq!(response.status(), StatusCode::OK, "chunk {index}");
    }
    assert_error(
        app.complete(&sha).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "hash-mismatch",
    )
    .await;
    let direct = app
        .client
        .put(app.url(&format!("/v1/files/{}", sha256_hex(b"something else"))))
        .body(sent.clone())
        .send()
        .await
        .unwrap();
    assert_error(direct, StatusCode::UNPROCESSABLE_ENTITY, "hash-mismatch").await;

    let metrics = scrape(&app).await;
    assert_eq!(metrics.value("ferry_digest_mismatches_total"), 1.0);
    assert_eq!(metrics.value("ferry_hash_mismatches_total"), 2.0);
    assert_eq!(metrics.value("ferry_uploads_failed_total"), 2.0);
    assert_eq!(metrics.value("ferry_uploads_completed_total"), 0.0);
    assert_eq!(
        metrics.value("ferry_merges_total{outcome=\"mismatch\"}"),
        1.0
    );
    assert_eq!(metrics.value("ferry_chunks_received_total"), 2.0);
    assert_eq!(
        metrics.requests("/v1/uploads/{sha256}/chunks/{index}", "PUT", 400),
        1.0
    );
}

async fn a_chunk_lost_by_the_store_is_asked_for_again_without_a_hash_mismatch(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(3000, 7);
    let sha = sha256_hex(&data);
    app.create_for(&data, 1024).await;
    for index in 0..3 {
        app.send_chunk(&data, 1024, index).await;
    }
    let session = app
        .meta
        .find_session(&OwnerId::anonymous(), &sha.parse().unwrap())
        .await
        .unwrap()
        .expect("the session");
    app.blobs
        .delete_prefix(&BlobStore::chunks_prefix(&session.id))
        .await
        .unwrap();
    let refused = assert_error(
        app.complete(&sha).await,
        StatusCode::CONFLICT,
        "chunks-missing",
    )
    .await;
    assert_eq!(refused["missing_chunks"], json!([[0, 2]]));

    let metrics = scrape(&app).await;
    assert_eq!(metrics.value("ferry_uploads_failed_total"), 0.0);
    assert_eq!(metrics.value("ferry_hash_mismatches_total"), 0.0);
    assert_eq!(
        metrics.value("ferry_merges_total{outcome=\"chunk_lost\"}"),
        1.0
    );
    assert_eq!(metrics.value("ferry_uploads_completed_total"), 0.0);
}

async fn a_ranged_download_counts_its_range_and_the_bytes_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(5000, 5);
    let sha = sha256_hex(&data);
    app.upload(&data, 1024).await;
    let before = scrape(&app).await;

    let ranged = app
        .client
        .get(app.url(&format!("/v1/files/{sha}")))
        .header("range", "bytes=100-299")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.bytes().await.unwrap().len(), 200);
    assert_eq!(app.downloaded(&sha).await.len(), 5000);

    let after = scrape(&app).await;
    assert_eq!(after.value("ferry_range_requests_total"), 1.0);
    assert_eq!(
        after.value("ferry_served_bytes_total") - before.value("ferry_served_bytes_total"),
        5200.0
    );
    assert_eq!(after.requests("/v1/files/{sha256}", "GET", 206), 1.0);
    assert_eq!(after.requests("/v1/files/{sha256}", "GET", 200), 1.0);
}

async fn unknown_paths_and_methods_and_refused_tokens_keep_labels_bounded(backend: Backend) {
    let app = spawn_app_with(backend, with_tokens).await;
    for path in ["/v2/a", "/v2/b", "/secret/file/123"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let brewed = app
        .client
        .request(
            reqwest::Method::from_bytes(b"BREW").unwrap(),
            app.url("/v1/uploads"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(brewed.status(), StatusCode::METHOD_NOT_ALLOWED);
    let anonymous = app
        .create(json!({"sha256": "a".repeat(64), "size": 10}))
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let forged = app
        .as_bearer("not.a.token")
        .create(json!({"sha256": "a".repeat(64), "size": 10}))
        .await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);

    let metrics = scrape(&app).await;
    assert_eq!(metrics.requests("unmatched", "GET", 404), 3.0);
    assert_eq!(metrics.requests("/v1/uploads", "other", 405), 1.0);
    assert_eq!(metrics.requests("/v1/uploads", "POST", 401), 2.0);
    assert_eq!(
        metrics.value("ferry_auth_refusals_total{credential=\"token\",reason=\"missing\"}"),
        1.0
    );
    assert_eq!(
        metrics.value("ferry_auth_refusals_total{credential=\"token\",reason=\"malformed\"}"),
        1.0
    );
    assert!(!metrics.0.contains("/v2/a") && !metrics.0.contains("BREW"));
}

async fn each_server_counts_only_its_own_traffic(backend: Backend) {
    let busy = spawn_app(backend).await;
    let quiet = spawn_app(backend).await;
    busy.upload(&test_bytes(2048, 6), 1024).await;
    assert_eq!(
        scrape(&busy).await.value("ferry_uploads_completed_total"),
        1.0
    );
    assert_eq!(
        scrape(&quiet).await.value("ferry_uploads_completed_total"),
        0.0
    );
}

on_both_backends!(
    an_upload_counts_its_session_chunks_bytes_merge_and_requests,
    an_instant_upload_is_a_dedup_hit,
    refused_bytes_count_as_digest_and_hash_mismatches,
    a_chunk_lost_by_the_store_is_asked_for_again_without_a_hash_mismatch,
    a_ranged_download_counts_its_range_and_the_bytes_served,
    unknown_paths_and_methods_and_refused_tokens_keep_labels_bounded,
    each_server_counts_only_its_own_traffic,
);

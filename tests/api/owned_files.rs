//! Each owner's files: listed newest first and page by page, let go one
//! owner at a time, and deleted with their object once no owner holds them.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    Backend, TestApp, assert_error, sha256_hex, spawn_app_with, spawn_cluster_with, test_bytes,
    with_tokens,
};
use crate::receiver::Receiver;
use crate::webhooks::with_webhook;

on_both_backends!(a_file_two_owners_hold_is_deleted_once_both_let_it_go);

async fn list(app: &TestApp, query: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/v1/files{query}")))
        .send()
        .await
        .expect("the listing answers")
}

async fn listed(app: &TestApp) -> Vec<String> {
    let answer = list(app, "").await;
    assert_eq!(answer.status(), StatusCode::OK);
    let page: Value = answer.json().await.unwrap();
    page["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["sha256"].as_str().unwrap().to_owned())
        .collect()
}

async fn delete(app: &TestApp, sha256: &str) -> reqwest::Response {
    app.client
        .delete(app.url(&format!("/v1/files/{sha256}")))
        .send()
        .await
        .expect("the delete answers")
}

/// Waits until downloading `sha256` answers 404.
async fn wait_until_gone(app: &TestApp, sha256: &str) {
    let gone = async {
        while app.download(sha256).await.status() != StatusCode::NOT_FOUND {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), gone)
        .await
        .expect("the file is deleted after its grace");
}

async fn a_file_two_owners_hold_is_deleted_once_both_let_it_go(backend: Backend) {
    let receiver = Receiver::start().await;
    let server = spawn_app_with(backend, |settings| {
        with_tokens(settings);
        with_webhook(settings, &receiver);
    })
    .await;
    let (alice, bob, carol) = (
        server.as_owner("alice"),
        server.as_owner("bob"),
        server.as_owner("carol"),
    );
    let data = test_bytes(3000, 21);
    let sha = sha256_hex(&data);
    alice.upload(&data, 1024).await;
    let instant = bob
        .create(serde_json::json!({"sha256": sha, "size": 3000, "filename": "b.bin"}))
        .await;
    assert_eq!(instant.status(), StatusCode::OK, "an instant upload");
    assert_eq!(listed(&alice).await, vec![sha.clone()]);
    assert_eq!(listed(&bob).await, vec![sha.clone()]);
    assert!(listed(&carol).await.is_empty());
    assert_error(
        delete(&carol, &sha).await,
        StatusCode::NOT_FOUND,
        "file-not-found",
    )
    .await;

    assert_eq!(delete(&alice, &sha).await.status(), StatusCode::NO_CONTENT);
    assert!(listed(&alice).await.is_empty());
    assert_error(
        delete(&alice, &sha).await,
        StatusCode::NOT_FOUND,
        "file-not-found",
    )
    .await;
    alice
        .uploads
        .delete_due_files()
        .await
        .expect("deletions run");
    assert_eq!(alice.downloaded(&sha).await, data, "bob still holds it");

    assert_eq!(delete(&bob, &sha).await.status(), StatusCode::NO_CONTENT);
    wait_until_gone(&server, &sha).await;
    receiver.event("file.deleted").await;
    let keys = server.stored_keys().await;
    assert!(
        keys.is_empty(),
        "the object is gone from the store: {keys:?}"
    );
    assert!(listed(&bob).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_holder_before_the_grace_ends_keeps_the_file() {
    let server = spawn_app_with(Backend::Sqlite, |settings| {
        with_tokens(settings);
        settings.app.delete_grace = Duration::from_secs(3600);
    })
    .await;
    let (alice, bob) = (server.as_owner("alice"), server.as_owner("bob"));
    let data = test_bytes(900, 22);
    let sha = sha256_hex(&data);
    assert_eq!(
        alice.put_file(&sha, &data).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(delete(&alice, &sha).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(bob.put_file(&sha, &data).await.status(), StatusCode::OK);
    let claimed = server
        .meta
        .claim_deletion(
            chrono::Utc::now() + chrono::Duration::days(2),
            chrono::Utc::now(),
        )
        .await
        .expect("the database answers");
    assert_eq!(claimed, None, "bob's reference cancelled the deletion");
    assert_eq!(bob.downloaded(&sha).await, data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listing_pages_newest_first_with_a_cursor() {
    let app = spawn_app_with(Backend::Postgres, |_| {}).await;
    let mut uploaded = Vec::new();
    for seed in 0..5u8 {
        let data = test_bytes(300 + usize::from(seed), seed);
        let sha = sha256_hex(&data);
        let answer = app
            .client
            .put(app.url(&format!("/v1/files/{sha}?filename=f{seed}.txt")))
            .body(data)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::CREATED);
        uploaded.push(sha);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let page: Value = list(&app, &query).await.json().await.unwrap();
        let files = page["files"].as_array().unwrap();
        assert!(files.len() <= 2);
        for file in files {
            seen.push(file["sha256"].as_str().unwrap().to_owned());
            assert!(file["url"].as_str().unwrap().ends_with(".txt"), "{file}");
            assert!(file["size"].as_u64().unwrap() >= 300);
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    uploaded.reverse();
    assert_eq!(seen, uploaded, "newest first, each once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_cursor_or_limit_is_refused() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    for query in [
        "?limit=0",
        "?limit=1001",
        "?limit=99999999999999999999",
        "?limit=x",
    ] {
        assert_error(
            list(&app, query).await,
            StatusCode::BAD_REQUEST,
            "invalid-request",
        )
        .await;
    }
    let body = assert_error(
        list(&app, "?cursor=bm90LWEtY3Vyc29y").await,
        StatusCode::BAD_REQUEST,
        "invalid-request",
    )
    .await;
    assert_eq!(body["field"], "cursor");
    assert_error(
        delete(&app, "nothex").await,
        StatusCode::BAD_REQUEST,
        "invalid-request",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instance_answers_404_once_a_file_is_deleted() {
    let instances =
        spawn_cluster_with(2, |settings| settings.app.delete_grace = Duration::ZERO).await;
    let data = test_bytes(2000, 23);
    let sha = sha256_hex(&data);
    let stored = instances[0].put_file(&sha, &data).await;
    assert_eq!(stored.status(), StatusCode::CREATED);
    for instance in &instances {
        assert_eq!(
            instance.downloaded(&sha).await,
            data,
            "each instance remembers it"
        );
    }
    assert_eq!(
        delete(&instances[1], &sha).await.status(),
        StatusCode::NO_CONTENT
    );
    for instance in &instances {
        wait_until_gone(instance, &sha).await;
    }
}

//! Owners: another owner's session is 404, never 403, and stays as it was;
//! each owner is held to its live sessions, staged bytes and request rate
//! with 429 `too-many-requests` and `Retry-After`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, assert_error, assert_too_many, sha256_hex, spawn_app_with, test_bytes,
    with_tokens,
};

const OWNERS: [&str; 2] = ["alice", "bob"];

async fn progress_of(app: &TestApp, sha256: &str) -> Value {
    let response = app.progress(sha256).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("an upload resource")
}

async fn another_owners_session_is_404_for_every_operation_and_stays_as_it_was(backend: Backend) {
    let app = spawn_app_with(backend, with_tokens).await;
    let (alice, bob) = (app.as_owner("alice"), app.as_owner("bob"));
    let data = test_bytes(3000, 20);
    let sha = sha256_hex(&data);
    alice.create_for(&data, 1024).await;
    alice.send_chunk(&data, 1024, 0).await;
    let before = app.snapshot(&OWNERS).await;
    let alices_view = progress_of(&alice, &sha).await;

    assert_error(
        bob.progress(&sha).await,
        StatusCode::NOT_FOUND,
        "upload-not-found",
    )
    .await;
    let chunk = data[1024..2048].to_vec();
    assert_error(
        bob.put_chunk(&sha, 1, chunk.clone()).await,
        StatusCode::NOT_FOUND,
        "upload-not-found",
    )
    .await;
    assert_error(
        bob.put_chunk(&sha, 0, vec![0; 1024]).await,
        StatusCode::NOT_FOUND,
        "upload-not-found",
    )
    .await;
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(chunk));
    let posted = bob
        .client
        .post(bob.url(&format!("/v1/uploads/{sha}/chunks/1")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_error(posted, StatusCode::NOT_FOUND, "upload-not-found").await;
    assert_error(
        bob.complete(&sha).await,
        StatusCode::NOT_FOUND,
        "upload-not-found",
    )
    .await;
    assert_error(
        bob.abort(&sha).await,
        StatusCode::NOT_FOUND,
        "upload-not-found",
    )
    .await;

    assert_eq!(app.snapshot(&OWNERS).await, before);
    assert_eq!(progress_of(&alice, &sha).await, alices_view);
    assert_eq!(alices_view["received_chunks"], json!([[0, 0]]));

    let bobs = bob
        .create(json!({"sha256": sha, "size": 3000, "chunk_size": 1024}))
        .await;
    assert_eq!(
        bobs.status(),
        StatusCode::CREATED,
        "bob gets a session of his own"
    );
    let bobs: Value = bobs.json().await.unwrap();
    assert_eq!(bobs["received_chunks"], json!([]));
    alice.send_chunk(&data, 1024, 1).await;
    alice.send_chunk(&data, 1024, 2).await;
    assert_eq!(alice.complete(&sha).await.status(), StatusCode::OK);
    assert_eq!(app.downloaded(&sha).await, data);
}

async fn an_owner_over_its_live_session_limit_gets_429_and_nothing_is_created(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        with_tokens(settings);
        settings.security.owner_max_sessions = 2;
    })
    .await;
    let (alice, bob) = (app.as_owner("alice"), app.as_owner("bob"));
    let files: Vec<Vec<u8>> = (0..3).map(|seed| test_bytes(2000, 30 + seed)).collect();
    alice.create_for(&files[0], 1024).await;
    alice.create_for(&files[1], 1024).await;
    let before = app.snapshot(&OWNERS).await;
    let over = alice
        .create(json!({"sha256": sha256_hex(&files[2]), "size": 2000}))
        .await;
    assert_too_many(over).await;
    assert_eq!(app.snapshot(&OWNERS).await, before);
    assert_error(
        alice.progress(&sha256_hex(&files[2])).await,
        StatusCode::NOT_FOUND,
        "upload-not-found",
    )
    .await;

    let resumed = alice
        .create(json!({"sha256": sha256_hex(&files[0]), "size": 2000}))
        .await;
    assert_eq!(
        resumed.status(),
        StatusCode::OK,
        "resuming is not a new session"
    );
    bob.create_for(&files[2], 1024).await;
    assert_eq!(
        alice.abort(&sha256_hex(&files[1])).await.status(),
        StatusCode::NO_CONTENT
    );
    alice.create_for(&files[2], 1024).await;
}

async fn an_owner_over_its_staged_byte_limit_gets_429_and_nothing_is_created(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        with_tokens(settings);
        settings.security.owner_max_staged = 10_000;
    })
    .await;
    let (alice, bob) = (app.as_owner("alice"), app.as_owner("bob"));
    let big = test_bytes(10_001, 40);
    let before = app.snapshot(&OWNERS).await;
    assert_too_many(
        alice
            .create(json!({"sha256": sha256_hex(&big), "size": 10_001}))
            .await,
    )
    .await;
    assert_eq!(app.snapshot(&OWNERS).await, before);

    let first = test_bytes(6000, 41);
    alice.create_for(&first, 1024).await;
    let second = test_bytes(5000, 42);
    let before = app.snapshot(&OWNERS).await;
    assert_too_many(
        alice
            .create(json!({"sha256": sha256_hex(&second), "size": 5000}))
            .await,
    )
    .await;
    assert_eq!(app.snapshot(&OWNERS).await, before);
    bob.create_for(&second, 1024).await;
    let exactly_the_rest = test_bytes(4000, 43);
    alice.create_for(&exactly_the_rest, 1024).await;
    assert_eq!(
        app.snapshot(&["alice"]).await.usage,
        [("alice".to_owned(), 2, 10_000)]
    );
}

#[tokio::test]
async fn an_owner_over_its_request_rate_gets_429_with_retry_after() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        with_tokens(settings);
        settings.security.owner_rate = 1;
    })
    .await;
    let (alice, bob) = (app.as_owner("alice"), app.as_owner("bob"));
    // A budget of 1 per second in bursts of 2: the third of a quick run of
    // requests is over, unless each took most of a second.
    let mut admitted = 0;
    let limited = loop {
        let data = test_bytes(1500, admitted as u8);
        let before = app.snapshot(&OWNERS).await;
        let response = alice
            .create(json!({"sha256": sha256_hex(&data), "size": 1500}))
            .await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(
                app.snapshot(&OWNERS).await,
                before,
                "a refused request acted"
            );
            break response;
        }
        assert_eq!(response.status(), StatusCode::CREATED);
        admitted += 1;
        assert!(admitted <= 10, "no 429 after {admitted} requests at 1/s");
    };
    assert!(admitted >= 2, "the burst is twice the rate: {admitted}");
    assert_eq!(assert_too_many(limited).await, 1);
    let response = bob
        .create(json!({"sha256": sha256_hex(&test_bytes(1500, 99)), "size": 1500}))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "each owner has a budget of its own"
    );
}

on_both_backends!(
    another_owners_session_is_404_for_every_operation_and_stays_as_it_was,
    an_owner_over_its_live_session_limit_gets_429_and_nothing_is_created,
    an_owner_over_its_staged_byte_limit_gets_429_and_nothing_is_created,
    concurrent_creates_do_not_take_an_owner_over_its_session_limit,
);

async fn concurrent_creates_do_not_take_an_owner_over_its_session_limit(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        with_tokens(settings);
        settings.security.owner_max_sessions = 2;
    })
    .await;
    let alice = app.as_owner("alice");
    let files: Vec<Vec<u8>> = (0..12).map(|seed| test_bytes(2000, 70 + seed)).collect();
    let answers = futures::future::join_all(
        files
            .iter()
            .map(|data| alice.create(json!({"sha256": sha256_hex(data), "size": 2000}))),
    )
    .await;
    let statuses: Vec<StatusCode> = answers.iter().map(|answer| answer.status()).collect();
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 2, "{statuses:?}");
    assert_eq!(
        app.snapshot(&["alice"]).await.usage,
        [("alice".to_owned(), 2, 4000)]
    );
}

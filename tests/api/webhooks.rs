//! Webhooks: every event type reaches a real receiver signed as Standard
//! Webhooks says, a receiver that fails gets the event again, and several
//! instances deliver each event once.

use std::collections::HashSet;
use std::time::Duration;

use ferry::config::Settings;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, assert_error, sha256_hex, spawn_app_with, spawn_cluster_with, test_bytes,
};
use crate::receiver::{Receiver, Reply, WEBHOOK_SECRET, type_of};

on_both_backends!(every_event_type_arrives_signed);

/// Sends events to `receiver`, and deletes files as soon as none holds them.
pub fn with_webhook(settings: &mut Settings, receiver: &Receiver) {
    settings.app.webhook_url = vec![receiver.url.clone()];
    settings.app.webhook_secret = Some(WEBHOOK_SECRET.to_owned().into());
    settings.app.delete_grace = Duration::ZERO;
}

/// The verified `data` of the event `kind` about `sha256`.
async fn event_about(receiver: &Receiver, kind: &str, sha256: &str) -> Value {
    let received = receiver
        .wait_for(|all| all.iter().any(|request| is_about(request, kind, sha256)))
        .await;
    let request = received
        .iter()
        .find(|request| is_about(request, kind, sha256))
        .unwrap();
    let event = request.verified(WEBHOOK_SECRET);
    assert_eq!(request.headers["content-type"], "application/json");
    assert!(event["timestamp"].as_str().is_some(), "{event}");
    event["data"].clone()
}

fn is_about(request: &crate::receiver::Received, kind: &str, sha256: &str) -> bool {
    type_of(request) == kind
        && serde_json::from_slice::<Value>(&request.body)
            .is_ok_and(|event| event["data"]["sha256"] == sha256)
}

/// Sends `sent` as the chunks of an upload declared as `claimed`.
async fn upload_lying(app: &TestApp, claimed: &[u8], sent: &[u8]) {
    let sha = sha256_hex(claimed);
    app.create_for(claimed, 1024).await;
    for (index, chunk) in sent.chunks(1024).enumerate() {
        let answer = app.put_chunk(&sha, index, chunk.to_vec()).await;
        assert_eq!(answer.status(), StatusCode::OK);
    }
    let refused = app.complete(&sha).await;
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "hash-mismatch").await;
}

async fn every_event_type_arrives_signed(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(backend, |settings| with_webhook(settings, &receiver)).await;

    let published = test_bytes(3000, 1);
    let sha = sha256_hex(&published);
    app.create_for(&published, 1024).await;
    let created = event_about(&receiver, "upload.created", &sha).await;
    assert_eq!(created["owner"], "anonymous");
    assert_eq!(created["size"], 3000);
    for index in 0..3 {
        app.send_chunk(&published, 1024, index).await;
    }
    assert_eq!(app.complete(&sha).await.status(), StatusCode::OK);
    let completed = event_about(&receiver, "upload.completed", &sha).await;
    assert_eq!(completed["size"], 3000);
    assert_eq!(completed["owner"], "anonymous");
    assert_eq!(completed["url"], format!("/v1/files/{sha}"));

    let aborted = test_bytes(2000, 2);
    app.create_for(&aborted, 1024).await;
    assert_eq!(
        app.abort(&sha256_hex(&aborted)).await.status(),
        StatusCode::NO_CONTENT
    );
    event_about(&receiver, "upload.aborted", &sha256_hex(&aborted)).await;

    let claimed = test_bytes(2000, 3);
    upload_lying(&app, &claimed, &test_bytes(2000, 4)).await;
    let failed = event_about(&receiver, "upload.failed", &sha256_hex(&claimed)).await;
    assert_eq!(failed["reason"], "hash-mismatch");

    let expiring = test_bytes(2000, 5);
    app.create_for(&expiring, 1024).await;
    let later = chrono::Utc::now() + chrono::Duration::days(3);
    app.uploads.sweep(later).await.expect("a sweep");
    event_about(&receiver, "upload.expired", &sha256_hex(&expiring)).await;

    let deleted = app
        .client
        .delete(app.url(&format!("/v1/files/{sha}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = event_about(&receiver, "file.deleted", &sha).await;
    assert_eq!(gone["size"], 3000);
    assert_error(
        app.download(&sha).await,
        StatusCode::NOT_FOUND,
        "file-not-found",
    )
    .await;

    let ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|request| request.headers["webhook-id"].clone())
        .collect();
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "each event once: {ids:?}");
    assert_eq!(
        ids.len(),
        9,
        "four sessions created, then one event each for completed, aborted, failed, expired, deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_gets_the_event_again() {
    let receiver = Receiver::start().await;
    receiver.answer_next([Reply::Status(500, "{}".into())]);
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        with_webhook(settings, &receiver)
    })
    .await;
    let data = test_bytes(500, 9);
    let sha = sha256_hex(&data);
    assert_eq!(
        app.put_file(&sha, &data).await.status(),
        StatusCode::CREATED
    );
    let received = receiver.wait_for(|all| all.len() >= 2).await;
    assert_eq!(type_of(&received[0]), "upload.completed");
    assert_eq!(received[0].body, received[1].body, "the same event again");
    assert_eq!(
        received[0].headers["webhook-id"],
        received[1].headers["webhook-id"]
    );
    received[1].verified(WEBHOOK_SECRET);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_deliver_each_event_once() {
    let receiver = Receiver::start().await;
    let instances = spawn_cluster_with(3, |settings| with_webhook(settings, &receiver)).await;
    let count = 12;
    for seed in 0..count {
        let data = test_bytes(700, seed as u8 + 40);
        let app = &instances[seed % instances.len()];
        let answer = app.put_file(&sha256_hex(&data), &data).await;
        assert_eq!(answer.status(), StatusCode::CREATED);
    }
    receiver.wait_for(|all| all.len() >= count).await;
    let settled = async {
        while instances[0].meta.pending_deliveries().await.unwrap() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), settled)
        .await
        .expect("every delivery ends");
    let ids: HashSet<String> = receiver
        .received()
        .iter()
        .map(|request| request.headers["webhook-id"].clone())
        .collect();
    assert_eq!(ids.len(), count);
    assert_eq!(receiver.received().len(), count, "no event twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_event_types_asked_for_are_sent() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        with_webhook(settings, &receiver);
        settings.app.webhook_events = vec!["upload.completed".into()];
    })
    .await;
    let data = test_bytes(3000, 12);
    app.upload(&data, 1024).await;
    let completed = receiver.event("upload.completed").await;
    assert_eq!(completed["data"]["sha256"], json!(sha256_hex(&data)));
    let settled = async {
        while app.meta.pending_deliveries().await.unwrap() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), settled)
        .await
        .expect("every delivery ends");
    let kinds: Vec<String> = receiver.received().iter().map(type_of).collect();
    assert_eq!(kinds, ["upload.completed"], "upload.created is left out");
}

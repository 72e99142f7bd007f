//! The pre-create hook: the app allows or refuses an upload before any
//! byte is sent, and ferry fails closed (or open, when told) when it
//! cannot say.

use std::time::Duration;

use ferry::config::Settings;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, assert_error, sha256_hex, spawn_app_with, test_bytes, with_tokens};
use crate::receiver::{Receiver, Reply, WEBHOOK_SECRET};

fn with_hook(settings: &mut Settings, hook: &Receiver) {
    with_tokens(settings);
    settings.app.pre_create_hook = Some(hook.url.clone());
    settings.app.webhook_secret = Some(WEBHOOK_SECRET.to_owned().into());
    settings.app.pre_create_timeout = Duration::from_millis(300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hook_refuses_with_its_message_and_nothing_is_stored() {
    let hook = Receiver::start().await;
    hook.answer_always(Reply::Status(
        403,
        r#"{"message":"over your plan\u0007"}"#.into(),
    ));
    let server = spawn_app_with(Backend::Sqlite, |settings| with_hook(settings, &hook)).await;
    let alice = server.as_owner("alice");
    let before = server.snapshot(&["alice"]).await;
    let data = test_bytes(2000, 1);
    let sha = sha256_hex(&data);
    let body =
        json!({"sha256": sha, "size": 2000, "filename": "a.mp4", "content_type": "video/mp4"});
    let refused = assert_error(alice.create(body).await, StatusCode::FORBIDDEN, "rejected").await;
    assert_eq!(refused["message"], "over your plan");
    let asked = hook.received()[0].verified(WEBHOOK_SECRET);
    assert_eq!(asked["owner"], "alice");
    assert_eq!(asked["sha256"], sha);
    assert_eq!(asked["size"], 2000);
    assert_eq!(asked["filename"], "a.mp4");
    assert_eq!(asked["content_type"], "video/mp4");
    assert_eq!(asked["client_address"], "127.0.0.1");
    let direct = alice.put_file(&sha, &data).await;
    assert_error(direct, StatusCode::FORBIDDEN, "rejected").await;
    assert_eq!(server.snapshot(&["alice"]).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hook_allows_and_a_resume_does_not_ask_again() {
    let hook = Receiver::start().await;
    let server = spawn_app_with(Backend::Sqlite, |settings| with_hook(settings, &hook)).await;
    let alice = server.as_owner("alice");
    let data = test_bytes(2000, 2);
    let body = json!({"sha256": sha256_hex(&data), "size": 2000});
    assert_eq!(
        alice.create(body.clone()).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        alice.create(body).await.status(),
        StatusCode::OK,
        "a resume"
    );
    assert_eq!(hook.received().len(), 1);
    let direct = test_bytes(500, 3);
    let stored = alice.put_file(&sha256_hex(&direct), &direct).await;
    assert_eq!(stored.status(), StatusCode::CREATED);
    assert_eq!(hook.received().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_that_does_not_answer_refuses_unless_it_fails_open() {
    let hook = Receiver::start().await;
    hook.answer_always(Reply::Hang);
    let closed = spawn_app_with(Backend::Sqlite, |settings| with_hook(settings, &hook)).await;
    let data = test_bytes(2000, 4);
    let body = json!({"sha256": sha256_hex(&data), "size": 2000});
    let refused = closed.as_owner("alice").create(body.clone()).await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_error(refused, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;

    let open = spawn_app_with(Backend::Sqlite, |settings| {
        with_hook(settings, &hook);
        settings.app.pre_create_fail_open = true;
    })
    .await;
    let allowed = open.as_owner("alice").create(body).await;
    assert_eq!(allowed.status(), StatusCode::CREATED);

    hook.answer_always(Reply::Status(502, "{}".into()));
    let other = test_bytes(2000, 5);
    let body = json!({"sha256": sha256_hex(&other), "size": 2000});
    let refused = closed.as_owner("alice").create(body).await;
    assert_error(refused, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
}

//! An event whose delivery a kill cut off is delivered by the process
//! started after it: the outbox is in the database, not in memory.

use reqwest::StatusCode;

use super::{hex_sha256, random_bytes};
use crate::instance::Instance;
use crate::receiver::{Receiver, Reply, WEBHOOK_SECRET, type_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_cut_off_by_a_kill_is_delivered_after_the_restart() {
    let receiver = Receiver::start().await;
    receiver.answer_always(Reply::Hang);
    let folder = tempfile::tempdir().expect("a folder");
    let database = folder.path().join("ferry.db");
    let store = folder.path().join("objects");
    let env = [
        ("FERRY_WEBHOOK_URL", receiver.url.as_str()),
        ("FERRY_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("FERRY_WEBHOOK_TIMEOUT", "2s"),
    ];
    let mut first = Instance::start_local_with(&database, &store, &env);
    let data = random_bytes(4000, 7);
    let sha = hex_sha256(&data);
    let stored = reqwest::Client::new()
        .put(first.url(&format!("/v1/files/{sha}")))
        .body(data)
        .send()
        .await
        .expect("the upload answers");
    assert_eq!(stored.status(), StatusCode::CREATED);
    receiver.wait_for(|all| !all.is_empty()).await;
    first.kill();

    receiver.answer_always(Reply::Status(204, String::new()));
    let _second = Instance::start_local_with(&database, &store, &env);
    let received = receiver.wait_for(|all| all.len() >= 2).await;
    assert_eq!(type_of(&received[1]), "upload.completed");
    assert_eq!(
        received[0].headers["webhook-id"], received[1].headers["webhook-id"],
        "the same event, delivered again"
    );
    let event = received[1].verified(WEBHOOK_SECRET);
    assert_eq!(event["data"]["sha256"], sha);
}

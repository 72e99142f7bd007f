//! An event whose delivery a kill cut off is delivered by the process
//! started after it: the outbox is in the database, not in memory. And an
//! operator's `ferryd files` commands on a running instance's database.

use reqwest::StatusCode;

use super::{hex_sha256, random_bytes};
use crate::instance::Instance;
use crate::receiver::{Receiver, Reply, WEBHOOK_SECRET, type_of};
use crate::store_binding::{ferryd, ferryd_with};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_lists_and_deletes_an_owners_file() {
    let folder = tempfile::tempdir().expect("a folder");
    let database = folder.path().join("ferry.db");
    let store = folder.path().join("objects");
    let instance = Instance::start_local_with(&database, &store, &[("FERRY_DELETE_GRACE", "0s")]);
    let data = random_bytes(3000, 8);
    let sha = hex_sha256(&data);
    let client = reqwest::Client::new();
    let stored = client
        .put(instance.url(&format!("/v1/files/{sha}?filename=report.pdf")))
        .body(data)
        .send()
        .await
        .expect("the upload answers");
    assert_eq!(stored.status(), StatusCode::CREATED);

    let listed = ferryd(
        &database,
        &store,
        &["files", "list", "--owner", "anonymous"],
    );
    assert!(listed.status.success());
    let lines = String::from_utf8(listed.stdout).expect("UTF-8");
    let fields: Vec<&str> = lines.trim_end().split('\t').collect();
    assert_eq!(fields[0], sha);
    assert_eq!(fields[1], "3000");
    assert_eq!(fields[4], "report.pdf");

    let other = ferryd(
        &database,
        &store,
        &["files", "delete", &sha, "--owner", "mallory"],
    );
    assert!(!other.status.success(), "mallory holds no such file");
    let grace = [("FERRY_DELETE_GRACE", "0s")];
    let deleted = ferryd_with(
        &database,
        &store,
        &grace,
        &["files", "delete", &sha, "--owner", "anonymous"],
    );
    assert!(deleted.status.success(), "{deleted:?}");
    let listed = ferryd(
        &database,
        &store,
        &["files", "list", "--owner", "anonymous"],
    );
    assert!(listed.stdout.is_empty());
    let gone = async {
        loop {
            let answer = client
                .get(instance.url(&format!("/v1/files/{sha}")))
                .send()
                .await
                .expect("the download answers");
            if answer.status() == StatusCode::NOT_FOUND {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(super::PATIENCE, gone)
        .await
        .expect("the running instance deletes the file");
}

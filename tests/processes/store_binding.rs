//! The red team's sweep: ferryd started on its store with another
//! database (a mistyped `DATABASE_URL`) refuses to start and deletes
//! nothing, `ferryd store leftovers` refuses as well, and back on the right
//! database every file is served as before.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::{Instance, PATIENCE, hex_sha256, random_bytes};

/// Runs `ferryd` with `args` over the SQLite database `database` and the
/// folder `store`, once it exits; one still running after [`PATIENCE`]
/// (a server that started) is killed and fails the test.
pub(super) fn ferryd(database: &Path, store: &Path, args: &[&str]) -> Output {
    ferryd_with(database, store, &[], args)
}

/// Runs `ferryd` as [`ferryd`] does, with extra environment.
pub(super) fn ferryd_with(
    database: &Path,
    store: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferryd"))
        .env_clear()
        .env("FERRY_BIND", "127.0.0.1:0")
        .env("DATABASE_URL", format!("sqlite://{}", database.display()))
        .env("FERRY_STORE", store)
        .env("FERRY_SWEEP_INTERVAL", "50ms")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ferryd runs");
    let started = Instant::now();
    while child.try_wait().expect("an exit status").is_none() {
        if started.elapsed() > PATIENCE {
            let _ = child.kill();
            panic!("ferryd {args:?} kept running over another database's store");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("ferryd's output")
}

/// Every file under `folder`, as paths relative to it.
pub(super) fn files_under(folder: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut folders = vec![folder.to_path_buf()];
    while let Some(next) = folders.pop() {
        for entry in std::fs::read_dir(&next).expect("a readable folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let relative = path.strip_prefix(folder).expect("under the folder");
                found.push(relative.display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferryd_on_another_databases_store_refuses_to_start_and_deletes_nothing() {
    let place = tempfile::tempdir().expect("a folder");
    let store = place.path().join("store");
    let (right, typo) = (
        place.path().join("ferry.db"),
        place.path().join("ferry-typo.db"),
    );
    let client = reqwest::Client::new();
    let data = random_bytes(300_000, 41);
    let sha = hex_sha256(&data);
    let mut first = Instance::start_local(&right, &store);
    let put = client
        .put(first.url(&format!("/v1/files/{sha}")))
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED);
    first.kill();
    let stored = files_under(&store);
    assert!(
        stored.iter().any(|file| file.starts_with("files/")),
        "{stored:?}"
    );

    let refused = ferryd(&typo, &store, &[]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "ferryd started: {said}");
    assert!(said.contains("belongs to another database"), "{said}");
    assert!(said.contains("ferryd store bind"), "{said}");
    let listing = ferryd(&typo, &store, &["store", "leftovers", "--delete"]);
    assert!(!listing.status.success(), "the leftover command ran");
    assert_eq!(files_under(&store), stored, "nothing in the store changed");

    let listed = ferryd(&right, &store, &["store", "leftovers"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "", "no leftovers");
    let again = Instance::start_local(&right, &store);
    let fetched = client
        .get(again.url(&format!("/v1/files/{sha}")))
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap(), data);
}

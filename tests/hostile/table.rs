//! Runs a table of hostile requests against one server: each request must
//! get exactly its status and code, never a 5xx, and leave the meta store
//! and the object store exactly as they were.

use std::time::Duration;

use ferry_proto::ContentHash;
use reqwest::StatusCode;

use crate::cases::{self, CHUNK, Case, Expect};
use crate::helpers::{Backend, TestApp, sha256_hex, spawn_app_with};
use crate::raw::{Outcome, exchange, exchange_then_close};
use crate::snapshot;

/// Heads and bodies may pause this long: short, so that stalled cases end soon.
pub const SHORT_TIMEOUT: Duration = Duration::from_secs(1);

/// What every case aims at: a session with chunk 0 of 3 received, and a
/// published file.
async fn prepare(app: &TestApp) {
    let data = cases::session_data();
    app.create_for(&data, CHUNK as u64).await;
    app.send_chunk(&data, CHUNK, 0).await;
    app.wait_until_linked(1).await;
    let file = cases::file_data();
    let response = app
        .client
        .put(app.url(&format!("/v1/files/{}", sha256_hex(&file))))
        .body(file)
        .send()
        .await
        .expect("a direct upload answers");
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// Every hash a case may leave a trace under.
fn candidates() -> Vec<ContentHash> {
    [
        cases::session_data(),
        cases::file_data(),
        cases::fresh_data(),
    ]
    .iter()
    .map(|data| ContentHash::parse(&sha256_hex(data)).expect("a hash"))
    .collect()
}

/// Runs `cases` against a fresh server on `backend`, then fails listing
/// every case that went wrong.
pub async fn run(backend: Backend, cases: Vec<Case>) {
    let app = spawn_app_with(backend, |settings| {
        settings.security.head_timeout = SHORT_TIMEOUT;
        settings.security.body_idle_timeout = SHORT_TIMEOUT;
    })
    .await;
    prepare(&app).await;
    let candidates = candidates();
    let mut failures = Vec::new();
    let count = cases.len();
    for case in cases {
        let before = snapshot::take(&app, &candidates).await;
        let (outcome, closed) = match case.expect {
            Expect::ErrorThenClose(..) => exchange_then_close(&app.address, &case.request).await,
            _ => (exchange(&app.address, &case.request).await, true),
        };
        let after = snapshot::take(&app, &candidates).await;
        if let Some(problem) = mismatch(case.expect, &outcome) {
            failures.push(format!("{}: {problem}", case.name));
        }
        if !closed {
            failures.push(format!(
                "{}: the connection stayed open after the answer",
                case.name
            ));
        }
        if before != after {
            failures.push(format!(
                "{}: the server's state changed\n{}",
                case.name,
                before.diff(&after)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Why `outcome` is not what `expect` asks, if it is not.
fn mismatch(expect: Expect, outcome: &Outcome) -> Option<String> {
    let answer = match outcome {
        Outcome::Closed if matches!(expect, Expect::TimeoutOrClose | Expect::ErrorOrClose(..)) => {
            return None;
        }
        Outcome::Closed => return Some("the connection closed without an answer".into()),
        Outcome::Answer(answer) => answer,
    };
    let (status, code) = match expect {
        Expect::Error(status, code)
        | Expect::ErrorOrClose(status, code)
        | Expect::ErrorThenClose(status, code) => (status, code),
        Expect::TimeoutOrClose => (408, "request-timeout"),
    };
    let body = answer.json();
    let found = body.as_ref().and_then(|body| body["code"].as_str());
    let described = || {
        format!(
            "got {} {}, expected {status} {code}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        )
    };
    if answer.status >= 500 {
        return Some(format!("a server error: {}", described()));
    }
    if answer.status != status || found != Some(code) {
        return Some(described());
    }
    let message = body.as_ref().and_then(|body| body["message"].as_str());
    if message.is_none_or(str::is_empty) {
        return Some(format!("no message: {}", described()));
    }
    if answer.header("content-type") != Some("application/json") {
        return Some(format!("not declared JSON: {}", answer.head));
    }
    None
}

//! Runs a table of hostile requests against one server: each request must
//! get exactly its status and code (or, when the HTTP engine refuses it
//! before any route runs, exactly its bare status), never a 5xx, and leave
//! the meta store and the object store exactly as they were.

use std::ops::Range;
use std::time::Duration;

use ferry_proto::ContentHash;
use reqwest::StatusCode;
use tokio::net::TcpStream;

use crate::cases::{self, CHUNK, Case, Expect};
use crate::helpers::{Backend, TestApp, sha256_hex, spawn_app_with};
use crate::raw::{Outcome, closed_without_more, exchange};
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
        let (outcome, mut connection) = exchange(&app.address, &case.request).await;
        let problem = match case.expect {
            Expect::Bare(status) => bare_mismatch(status, false, &outcome, &mut connection).await,
            Expect::BareOrClose(status) => {
                bare_mismatch(status, true, &outcome, &mut connection).await
            }
            Expect::FileBytes(status, start, end) => served_mismatch(status, start..end, &outcome),
            Expect::ErrorThenClose(..) => match mismatch(case.expect, &outcome) {
                Some(problem) => Some(problem),
                None => closed_without_more(&mut connection).await.err(),
            },
            expect => mismatch(expect, &outcome),
        };
        drop(connection);
        let after = snapshot::take(&app, &candidates).await;
        if let Some(problem) = problem {
            failures.push(format!("{}: {problem}", case.name));
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
        Expect::Bare(_) | Expect::BareOrClose(_) | Expect::FileBytes(..) => {
            unreachable!("checked on their own")
        }
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

/// Why `outcome` is not the engine's bare `status` (or, when `or_close`,
/// a connection closed without an answer), if it is not: the status, no
/// body, no media type, and the connection closed with nothing after it.
async fn bare_mismatch(
    status: u16,
    or_close: bool,
    outcome: &Outcome,
    connection: &mut TcpStream,
) -> Option<String> {
    let answer = match outcome {
        Outcome::Closed if or_close => return None,
        Outcome::Closed => return Some("the connection closed without an answer".into()),
        Outcome::Answer(answer) => answer,
    };
    let described = || {
        format!(
            "got {:?} {:?}, expected a bare {status}",
            answer.head,
            String::from_utf8_lossy(&answer.body)
        )
    };
    if answer.status >= 500 {
        return Some(format!("a server error: {}", described()));
    }
    let bodiless = answer.body.is_empty() && answer.header("content-length") == Some("0");
    if answer.status != status || !bodiless || answer.header("content-type").is_some() {
        return Some(described());
    }
    if !answer.after.is_empty() {
        let after = String::from_utf8_lossy(&answer.after);
        return Some(format!("more bytes after the answer: {after:?}"));
    }
    closed_without_more(connection).await.err()
}

/// Why `outcome` is not `status` with the bytes `range` of the fixture's
/// published file, if it is not: the status, the exact length and, for a
/// 206, the `Content-Range`, and the body byte for byte.
fn served_mismatch(status: u16, range: Range<usize>, outcome: &Outcome) -> Option<String> {
    let Outcome::Answer(answer) = outcome else {
        return Some("the connection closed without an answer".into());
    };
    let file = cases::file_data();
    let expected = &file[range.clone()];
    let content_range = format!("bytes {}-{}/{}", range.start, range.end - 1, file.len());
    let wanted_range = (status == 206).then_some(content_range.as_str());
    let length = expected.len().to_string();
    if answer.status != status
        || answer.header("content-range") != wanted_range
        || answer.header("content-length") != Some(length.as_str())
    {
        return Some(format!(
            "got {:?}, expected {status} with {wanted_range:?} and {length} bytes",
            answer.head
        ));
    }
    if answer.body != expected {
        let at = (answer.body.iter().zip(expected))
            .position(|(a, b)| a != b)
            .unwrap_or(answer.body.len().min(expected.len()));
        let from = |bytes: &[u8]| String::from_utf8_lossy(&bytes[at..]).into_owned();
        return Some(format!(
            "the body differs from the stored bytes {range:?} from byte {at}: {:?} instead of {:?}",
            from(&answer.body),
            from(expected)
        ));
    }
    None
}

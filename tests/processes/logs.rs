//! ferryd's JSON log as an operator queries it: one flat object per line,
//! the access line of each request with its method, route pattern, status,
//! bytes, duration, owner and request id, the same request id on the lines
//! of the merge the request started in the background, and no source paths
//! or secrets anywhere.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use super::{CHUNK, PATIENCE, hex_sha256, random_bytes, send_everywhere};
use crate::databases::{Backend, TestDatabase};
use crate::instance::Instance;
use crate::s3_server::S3Server;

/// The secret tokens are signed with where a test turns authentication on.
const JWT_SECRET: &str = "a secret for the log tests, thirty-two bytes or more";

/// A client that sends `token` as its bearer token on every request.
fn bearer_client(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = format!("Bearer {token}").parse().unwrap();
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// Whether a JSON log line happened inside the request with this id.
fn in_request(line: &Value, request_id: &str) -> bool {
    line["request_id"] == request_id
}

/// The access line of the request with this id.
fn access_line<'l>(lines: &'l [Value], request_id: &str) -> &'l Value {
    lines
        .iter()
        .find(|line| line["target"] == "ferry::access" && in_request(line, request_id))
        .unwrap_or_else(|| panic!("no access line for {request_id}: {lines:#?}"))
}

/// The instance's log lines, parsed, once `wanted` holds for them.
async fn lines_once(instance: &Instance, wanted: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let lines: Vec<Value> = instance
            .log()
            .iter()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
            .collect();
        if wanted(&lines) {
            return lines;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "no such line in the log: {lines:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_follow_a_request_by_its_id_into_its_background_merge() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let s3 = S3Server::shared();
    let bucket = s3.new_bucket().await;
    let instance = Instance::start_with(
        &database,
        &bucket,
        &[
            ("FERRY_LOG_FORMAT", "json"),
            ("RUST_LOG", "info,ferry=debug"),
            ("FERRY_JWT_SECRET", JWT_SECRET),
        ],
    );
    let token = ferry::access::issue_hs256(
        JWT_SECRET.as_bytes(),
        "alice",
        Duration::from_secs(600),
        std::time::SystemTime::now(),
    );
    let client = bearer_client(&token);
    let data = random_bytes(3 * CHUNK, 4);
    let sha = hex_sha256(&data);
    send_everywhere(&client, &[&instance], &data, CHUNK).await;

    let answer = client
        .post(instance.url(&format!("/v1/uploads/{sha}/complete")))
        .header("x-request-id", "story-42")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["x-request-id"], "story-42");
    let complete_status = answer.status();
    let complete_bytes = answer.bytes().await.unwrap().len();
    let unnamed = client.get(instance.url("/healthz")).send().await.unwrap();
    let generated = unnamed.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        generated.len() == 32 && generated.bytes().all(|b| b.is_ascii_hexdigit()),
        "{generated}"
    );
    let forged = client
        .get(instance.url("/healthz"))
        .header("x-request-id", "a\"}, {\"forged\": 1")
        .send()
        .await
        .unwrap();
    assert_ne!(forged.headers()["x-request-id"], "a\"}, {\"forged\": 1");

    let published_in_story =
        |line: &Value| line["message"] == "published" && in_request(line, "story-42");
    let lines = lines_once(&instance, |lines| {
        let answered = |id: &str| {
            lines
                .iter()
                .any(|line| line["target"] == "ferry::access" && in_request(line, id))
        };
        lines.iter().any(published_in_story) && answered("story-42") && answered(&generated)
    })
    .await;
    let published = lines.iter().find(|line| published_in_story(line)).unwrap();
    assert_eq!(published["level"], "INFO");
    assert_eq!(published["owner"], "alice");
    assert_eq!(published["sha256"], sha);
    assert!(published["seconds"].is_f64(), "{published}");
    let completed = lines
        .iter()
        .find(|line| line["message"] == "complete answered")
        .expect("a line for the complete request");
    assert!(in_request(completed, "story-42"), "{completed}");
    assert!(completed["seconds"].is_f64(), "{completed}");
    let chunks: Vec<&Value> = lines
        .iter()
        .filter(|line| line["message"] == "chunk accepted")
        .collect();
    assert_eq!(chunks.len(), 3, "one line per chunk");
    for chunk in chunks {
        assert_eq!(chunk["level"], "DEBUG");
        assert_eq!(chunk["owner"], "alice");
        assert_eq!(chunk["sha256"], sha);
        assert!(chunk["seconds"].is_f64(), "{chunk}");
        assert!(chunk["request_id"].is_string(), "{chunk}");
    }

    let complete = access_line(&lines, "story-42");
    assert_eq!(complete["level"], "INFO");
    assert_eq!(complete["message"], "answered");
    assert_eq!(complete["method"], "POST");
    assert_eq!(complete["route"], "/v1/uploads/{sha256}/complete");
    assert_eq!(complete["status"], complete_status.as_u16());
    assert_eq!(complete["bytes"], complete_bytes);
    assert!(
        complete["duration_ms"].as_f64().unwrap() >= 0.0,
        "{complete}"
    );
    assert_eq!(complete["owner"], "alice");
    let merge_lines: Vec<&Value> = lines
        .iter()
        .filter(|line| line["target"] == "ferry::upload::merge" && line["sha256"] == sha)
        .collect();
    assert!(merge_lines.len() >= 2, "{merge_lines:#?}");
    for line in merge_lines {
        assert!(
            in_request(line, "story-42"),
            "a merge line without its request: {line}"
        );
    }
    let chunk_lines: Vec<&Value> = lines
        .iter()
        .filter(|line| line["route"] == "/v1/uploads/{sha256}/chunks/{index}")
        .collect();
    assert_eq!(chunk_lines.len(), 3, "{chunk_lines:#?}");
    for line in chunk_lines {
        assert_eq!(line["method"], "PUT");
        assert_eq!(line["status"], StatusCode::OK.as_u16());
        assert!(line["bytes"].as_u64().unwrap() > 0, "{line}");
        assert_eq!(line["owner"], "alice");
    }
    let probe = access_line(&lines, &generated);
    assert_eq!(probe["route"], "/healthz");
    assert_eq!(probe["method"], "GET");
    assert_eq!(probe["status"], 200);
    assert!(probe.get("owner").is_none(), "{probe}");

    let signature = token.rsplit('.').next().unwrap();
    for line in instance.log() {
        assert!(
            !line.contains(signature) && !line.contains(JWT_SECRET),
            "a secret in the log: {line}"
        );
        assert!(
            !line.contains(".rs\"") && !line.contains("/.cargo/"),
            "a source path in the log: {line}"
        );
        let parsed: Value = serde_json::from_str(&line).unwrap();
        let fields = parsed.as_object().expect("an object");
        for (key, value) in fields {
            assert!(
                !key.starts_with("log.") && !value.is_object() && !value.is_array(),
                "not a flat field: {key} in {line}"
            );
        }
    }
}

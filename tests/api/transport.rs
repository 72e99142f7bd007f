//! What a connection may cost the server: bodies that stall or that nobody
//! reads, heads that trickle, readers that stop reading, too many
//! connections, from everyone or from one address; and who may call across
//! origins.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{Backend, TestApp, sha256_hex, spawn_app_with, test_bytes, with_tokens};

/// Longest a test waits for the server to close a connection or answer.
const PATIENCE: Duration = Duration::from_secs(20);

/// Reads one response with a `Content-Length` body; its status and body.
async fn read_response(stream: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut received = Vec::new();
    let mut piece = [0u8; 4096];
    loop {
        let read = stream.read(&mut piece).await.expect("the response");
        assert!(
            read > 0,
            "the connection closed before a whole response: {received:?}"
        );
        received.extend_from_slice(&piece[..read]);
        let Some(end) = received.windows(4).position(|window| window == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |value| value.trim().parse().expect("a length"));
        if received.len() >= end + 4 + length {
            let status = head[9..12].parse().expect("a status");
            return (status, received[end + 4..end + 4 + length].to_vec());
        }
    }
}

/// Waits until the server closes `stream`, reading and dropping what it sends.
async fn closed_by_server(stream: &mut TcpStream) -> usize {
    let mut piece = vec![0u8; 64 << 10];
    let mut total = 0;
    loop {
        match stream.read(&mut piece).await {
            Ok(0) | Err(_) => return total,
            Ok(read) => total += read,
        }
    }
}

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    TcpStream::connect(address).await.expect("a connection")
}

#[tokio::test]
async fn a_chunk_body_that_stops_arriving_ends_in_408_and_is_not_kept() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.security.body_idle_timeout = Duration::from_secs(1);
    })
    .await;
    let data = test_bytes(64 << 10, 1);
    let sha256 = sha256_hex(&data);
    app.create_for(&data, 64 << 10).await;
    let mut stream = connect(&app).await;
    let head = format!(
        "PUT /v1/uploads/{sha256}/chunks/0 HTTP/1.1\r\nHost: ferry\r\nContent-Length: {}\r\n\r\n",
        data.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&data[..10]).await.unwrap();
    let (status, body) = read_response(&mut stream).await;
    assert_eq!(status, 408);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "request-timeout");
    let progress: Value = app.progress(&sha256).await.json().await.unwrap();
    assert_eq!(progress["received_chunks"], serde_json::json!([]));
    assert_eq!(progress["received_bytes"], 0);
}

#[tokio::test]
async fn a_later_request_head_that_trickles_loses_its_connection() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.security.head_timeout = Duration::from_secs(1);
    })
    .await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: ferry\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut stream).await.0, 200);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHo")
        .await
        .unwrap();
    assert_eq!(
        closed_by_server(&mut stream).await,
        0,
        "no answer to a head never finished"
    );
}

#[tokio::test]
async fn a_reader_that_stops_taking_a_download_loses_its_connection() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.security.send_timeout = Duration::from_secs(1);
    })
    .await;
    let data = test_bytes(24 << 20, 2);
    let file = app.upload(&data, 4 << 20).await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let address = app.address.trim_start_matches("http://").parse().unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    let request = format!(
        "GET /v1/files/{} HTTP/1.1\r\nHost: ferry\r\n\r\n",
        file["sha256"].as_str().unwrap()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let received = closed_by_server(&mut stream).await;
    assert!(
        received < data.len(),
        "the server gave up on the stalled reader, after {received} of {} bytes",
        data.len()
    );
}

#[tokio::test]
async fn connections_past_the_cap_wait_until_one_closes() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.security.max_connections = 2;
    })
    .await;
    let held = [connect(&app).await, connect(&app).await];
    let mut waiting = connect(&app).await;
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: ferry\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), waiting.peek(&mut first)).await;
    assert!(
        early.is_err(),
        "a third connection was served while two were held"
    );
    drop(held);
    let answer = tokio::time::timeout(Duration::from_secs(10), read_response(&mut waiting)).await;
    let (status, _) = answer.expect("the waiting connection is served once a held one closes");
    assert_eq!(status, 200);
}

/// The head of a chunk upload without a token, its body chunked, and the
/// body's first piece; its end never comes.
fn unfinished_chunk_without_a_token() -> Vec<u8> {
    let zeros = "0".repeat(64);
    format!(
        "PUT /v1/uploads/{zeros}/chunks/0 HTTP/1.1\r\nHost: ferry\r\n\
         Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn a_body_nobody_reads_is_answered_and_its_connection_closed() {
    let app = spawn_app_with(Backend::Sqlite, with_tokens).await;
    let readiness =
        b"GET /readyz HTTP/1.1\r\nHost: ferry\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
    for (request, status) in [
        (unfinished_chunk_without_a_token(), 401),
        (readiness.to_vec(), 200),
    ] {
        let mut stream = connect(&app).await;
        stream.write_all(&request).await.unwrap();
        assert_eq!(read_response(&mut stream).await.0, status);
        tokio::time::timeout(PATIENCE, closed_by_server(&mut stream))
            .await
            .expect("the server closes the connection of a body it did not read");
    }
}

#[tokio::test]
async fn eight_bodies_nobody_reads_do_not_hold_a_server_of_eight_connections() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        with_tokens(settings);
        settings.security.max_connections = 8;
        settings.security.max_connections_per_address = 0;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut stream = connect(&app).await;
        stream
            .write_all(&unfinished_chunk_without_a_token())
            .await
            .unwrap();
        assert_eq!(read_response(&mut stream).await.0, 401);
        held.push(stream);
    }
    let health = tokio::time::timeout(PATIENCE, app.client.get(app.url("/healthz")).send())
        .await
        .expect("/healthz answers while the eight sockets stay open")
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    drop(held);
}

#[tokio::test]
async fn one_address_over_its_connection_limit_is_refused_while_its_others_are_served() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.security.max_connections_per_address = 3;
    })
    .await;
    let health = b"GET /healthz HTTP/1.1\r\nHost: ferry\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = connect(&app).await;
        stream.write_all(health).await.unwrap();
        assert_eq!(read_response(&mut stream).await.0, 200);
        held.push(stream);
    }
    let mut over = connect(&app).await;
    let (status, body) = tokio::time::timeout(PATIENCE, read_response(&mut over))
        .await
        .expect("the connection over the limit is answered at once");
    assert_eq!(status, 503);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "unavailable");
    tokio::time::timeout(PATIENCE, closed_by_server(&mut over))
        .await
        .expect("and closed");
    for stream in &mut held {
        stream.write_all(health).await.unwrap();
        assert_eq!(read_response(stream).await.0, 200);
    }
    drop(held.pop());
    let admitted = async {
        loop {
            let mut next = connect(&app).await;
            next.write_all(health).await.unwrap();
            let mut first = [0u8; 12];
            if next.read_exact(&mut first).await.is_ok() && first.ends_with(b"200") {
                return;
            }
        }
    };
    tokio::time::timeout(PATIENCE, admitted)
        .await
        .expect("a place is given back when a connection closes");
}

#[tokio::test]
async fn cross_origin_calls_are_refused_unless_the_origin_is_configured() {
    let closed = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let answer = closed
        .client
        .get(closed.url("/healthz"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        answer
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let open = spawn_app_with(Backend::Sqlite, |settings| {
        settings.security.cors_origins = vec!["https://app.example".to_owned()];
    })
    .await;
    let preflight = open
        .client
        .request(reqwest::Method::OPTIONS, open.url("/v1/uploads"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    let allowed = |name: &str| {
        preflight
            .headers()
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
    };
    assert_eq!(
        allowed("access-control-allow-origin"),
        "https://app.example"
    );
    assert!(allowed("access-control-allow-headers").contains("authorization"));
    assert!(allowed("access-control-allow-methods").contains("post"));
    let other = open
        .client
        .request(reqwest::Method::OPTIONS, open.url("/v1/uploads"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let exposed = open
        .client
        .get(open.url("/healthz"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    let exposed = exposed
        .headers()
        .get("access-control-expose-headers")
        .unwrap()
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("retry-after") && exposed.contains("content-range"));
}

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use tokio::time::timeout;

use super::*;

/// The body limit of these tests: short, so that they end soon.
const BODY: Duration = Duration::from_millis(200);
/// Longer than any limit here: what a test waits at most.
const PATIENCE: Duration = Duration::from_secs(10);

fn limits() -> ConnectionLimits {
    ConnectionLimits {
        head: Duration::from_secs(10),
        body: BODY,
        send: Duration::from_secs(10),
    }
}

/// The client's end, and the server's end watched.
fn connection() -> (DuplexStream, Watched<DuplexStream>) {
    let (client, server) = duplex(1 << 16);
    (client, Watched::new(server, limits()))
}

/// Reads from the server's end until `count` bytes arrived.
async fn receive(server: &mut Watched<DuplexStream>, count: usize) {
    let mut received = vec![0u8; count];
    server.read_exact(&mut received).await.unwrap();
}

#[tokio::test]
async fn bytes_that_look_like_a_bare_refusal_are_written_as_they_are() {
    for piece in [
        &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"[..],
        b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n",
    ] {
        let mut connection = Watched::new(Vec::new(), limits());
        connection.write_all(piece).await.unwrap();
        assert_eq!(connection.io, piece);
    }
}

#[tokio::test]
async fn a_body_that_stops_arriving_ends_the_connection_though_nobody_answered() {
    let (mut client, mut server) = connection();
    let sent = b"PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
    client.write_all(sent).await.unwrap();
    receive(&mut server, sent.len()).await;
    let mut more = [0u8; 1];
    let ended = timeout(PATIENCE, server.read(&mut more))
        .await
        .expect("the body deadline passes");
    assert_eq!(ended.unwrap_err().kind(), io::ErrorKind::TimedOut);
}

#[tokio::test]
async fn a_body_answered_early_that_stops_arriving_ends_the_connection() {
    let (mut client, mut server) = connection();
    let sent = b"PUT /x HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc";
    client.write_all(sent).await.unwrap();
    receive(&mut server, sent.len()).await;
    server
        .write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n")
        .await
        .unwrap();
    let mut more = [0u8; 1];
    let ended = timeout(PATIENCE, server.read(&mut more))
        .await
        .expect("the body deadline passes");
    assert_eq!(ended.unwrap_err().kind(), io::ErrorKind::TimedOut);
}

#[tokio::test]
async fn a_request_that_arrived_whole_is_not_held_to_the_body_deadline() {
    let (mut client, mut server) = connection();
    let sent = b"POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
    client.write_all(sent).await.unwrap();
    receive(&mut server, sent.len()).await;
    let mut more = [0u8; 1];
    let waiting = timeout(BODY * 3, server.read(&mut more)).await;
    assert!(waiting.is_err(), "the connection ended: {waiting:?}");
}

#[tokio::test]
async fn a_body_that_keeps_arriving_is_not_cut_off() {
    let (mut client, mut server) = connection();
    client
        .write_all(b"PUT /x HTTP/1.1\r\nContent-Length: 6\r\n\r\n")
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..6 {
            tokio::time::sleep(BODY / 2).await;
            client.write_all(b"x").await.unwrap();
        }
        client
    });
    let mut received = Vec::new();
    let mut piece = [0u8; 64];
    while !received.ends_with(b"xxxxxx") {
        let read = timeout(PATIENCE, server.read(&mut piece))
            .await
            .expect("the body arrives")
            .expect("the connection holds");
        received.extend_from_slice(&piece[..read]);
    }
    drop(trickle.await);
    assert_eq!(server.framing.stage(), Stage::Answering);
}

#[tokio::test]
async fn a_body_nobody_asked_for_is_read_only_up_to_the_read_ahead() {
    let (mut client, mut server) = connection();
    let head = b"PUT /x HTTP/1.1\r\nContent-Length: 40000\r\n\r\n";
    let body = vec![7u8; 40_000];
    let gate = server.gate();
    let sending = tokio::spawn(async move {
        client.write_all(head).await.unwrap();
        client.write_all(&body).await.unwrap();
        client
    });
    let ahead = head.len() + READ_AHEAD as usize;
    receive(&mut server, ahead).await;
    let mut more = [0u8; 1];
    let held = timeout(Duration::from_millis(300), server.read(&mut more)).await;
    assert!(
        held.is_err(),
        "read past the read-ahead before anyone asked"
    );
    assert_eq!(gate.request(), 1);
    gate.open(1);
    receive(&mut server, 40_000 - READ_AHEAD as usize).await;
    drop(sending.await.unwrap());
}

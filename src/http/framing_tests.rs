use super::*;

fn fed(pieces: &[&[u8]]) -> Framing {
    let mut framing = Framing::default();
    for piece in pieces {
        framing.read(piece);
    }
    framing
}

/// Feeds a whole request in pieces of `size`, asserting that it is not
/// taken for whole before its last piece.
fn fed_in_pieces(bytes: &[u8], size: usize) -> Framing {
    let mut framing = Framing::default();
    let pieces: Vec<&[u8]> = bytes.chunks(size).collect();
    for piece in &pieces {
        assert_ne!(framing.stage(), Stage::Answering, "pieces of {size}");
        framing.read(piece);
    }
    framing
}

#[test]
fn a_head_ends_at_its_empty_line_whatever_the_pieces() {
    let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for size in 1..head.len() {
        let framing = fed_in_pieces(head, size);
        assert_eq!(framing.stage(), Stage::Answering, "pieces of {size}");
    }
}

#[test]
fn a_head_of_bare_line_feeds_ends_too() {
    assert_eq!(
        fed(&[b"GET / HTTP/1.1\nHost: x\n\n"]).stage(),
        Stage::Answering
    );
}

#[test]
fn empty_lines_before_a_request_line_do_not_end_a_head() {
    assert_eq!(fed(&[b"\r\n\r\nGET / HTTP/1.1\r\n"]).stage(), Stage::Head);
}

#[test]
fn a_body_of_declared_length_ends_after_that_many_bytes_whatever_the_pieces() {
    let request = b"PUT /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    for size in 1..request.len() {
        let framing = fed_in_pieces(request, size);
        assert_eq!(framing.stage(), Stage::Answering, "pieces of {size}");
    }
    let mut framing = fed(&[b"PUT /x HTTP/1.1\r\ncontent-length:  5 \r\n\r\nhell"]);
    assert_eq!(framing.stage(), Stage::Body);
    framing.read(b"o");
    assert_eq!(framing.stage(), Stage::Answering);
}

#[test]
fn a_chunked_body_ends_after_its_last_chunk_and_trailers_whatever_the_pieces() {
    let request = b"PUT /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
        5;name=value\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n";
    for size in 1..request.len() {
        let framing = fed_in_pieces(request, size);
        assert_eq!(framing.stage(), Stage::Answering, "pieces of {size}");
    }
    let without_trailers =
        b"PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    assert_eq!(fed(&[without_trailers]).stage(), Stage::Answering);
}

#[test]
fn a_chunked_body_without_its_last_chunk_is_still_to_come() {
    let framing = fed(&[b"PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"]);
    assert_eq!(framing.stage(), Stage::Body);
}

#[test]
fn a_request_without_a_body_waits_for_its_answer_and_then_the_next_head() {
    let mut framing = fed(&[b"GET /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n"]);
    assert_eq!(framing.stage(), Stage::Answering);
    framing.read(b"GET /pipelined HTTP/1.1\r\n");
    assert_eq!(framing.stage(), Stage::Answering);
    framing.wrote(b"HTTP/1.1 200 OK\r\n");
    assert_eq!(framing.stage(), Stage::Idle);
    framing.read(b"G");
    assert_eq!(framing.stage(), Stage::Head);
}

#[test]
fn continue_is_not_the_answer_and_the_body_after_it_is_not_a_head() {
    let mut framing =
        fed(&[b"PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"]);
    framing.wrote(CONTINUE);
    assert_eq!(framing.stage(), Stage::Body);
    framing.read(b"\r\n\r\n");
    assert_eq!(framing.stage(), Stage::Answering);
}

#[test]
fn a_body_answered_before_its_end_is_still_waited_for_then_the_next_head_begins() {
    let mut framing = fed(&[b"PUT /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"]);
    framing.wrote(b"HTTP/1.1 401 Unauthorized\r\n");
    assert_eq!(framing.stage(), Stage::Body);
    framing.read(b"defghij");
    assert_eq!(framing.stage(), Stage::Idle);
    framing.read(b"GET / HTTP/1.1\r\n");
    assert_eq!(framing.stage(), Stage::Head);
}

#[test]
fn the_bytes_after_a_body_in_the_same_piece_begin_the_next_head() {
    let mut framing = fed(&[b"PUT /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"]);
    framing.wrote(b"HTTP/1.1 200 OK\r\n");
    framing.read(b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(framing.stage(), Stage::Answering);
}

#[test]
fn framing_that_cannot_be_followed_leaves_the_body_to_come_until_the_connection_ends() {
    for request in [
        &b"PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"[..],
        b"PUT /x HTTP/1.1\r\nContent-Length: 1O\r\n\r\n",
        b"PUT /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabc",
        b"PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\n",
    ] {
        let mut framing = fed(&[request]);
        assert_eq!(
            framing.stage(),
            Stage::Body,
            "{}",
            String::from_utf8_lossy(request)
        );
        framing.read(&[b'x'; 100]);
        assert_eq!(framing.stage(), Stage::Body);
    }
}

#[test]
fn a_header_line_longer_than_what_is_kept_still_ends_in_its_line_feed() {
    let long = format!("GET / HTTP/1.1\r\nX-Long: {}\r\n\r\n", "a".repeat(1000));
    assert_eq!(fed(&[long.as_bytes()]).stage(), Stage::Answering);
    let cut = format!(
        "PUT / HTTP/1.1\r\nContent-Length: {}5\r\n\r\n",
        "0".repeat(200)
    );
    assert_eq!(fed(&[cut.as_bytes()]).stage(), Stage::Body);
}

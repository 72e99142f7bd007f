//! The table of hostile requests, by category, each with the one answer the
//! contract (docs/api.md) gives it. The hashes they aim at are fixed: a
//! session of three chunks with chunk 0 received, a published file whose
//! last bytes look like a bare 400, and a hash nothing exists for (see
//! `table::prepare`).

use crate::helpers::{sha256_hex, test_bytes};
use crate::raw::{RawRequest, chunked, post_json, request, then_close};

mod bodies;
mod downloads;
mod forms;
mod names_and_types;
mod owned_files;
mod transport;
mod values;

pub use bodies::{bodies_cut_short_or_too_long, wrong_digests};
pub use downloads::downloads_of_bytes_that_look_like_a_refusal;
pub use forms::malformed_forms;
pub use names_and_types::{unsafe_names, wrong_media_types};
pub use owned_files::listings_and_deletes_out_of_range;
pub use transport::{bodies_nobody_reads, oversized_or_ambiguous_heads, stalled_heads_and_bodies};
pub use values::{
    chunk_indices_outside_the_file, malformed_hashes, malformed_json, numbers_out_of_range,
};

/// What a case must get back.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// This status with this JSON `code`.
    Error(u16, &'static str),
    /// 408 `request-timeout`, or the connection closed without an answer.
    TimeoutOrClose,
    /// This status with this code, or the connection closed without an answer.
    ErrorOrClose(u16, &'static str),
    /// This status written by the HTTP engine itself, before any route
    /// runs: no body at all (`Content-Length: 0`, no `Content-Type`), and
    /// the connection closed after it.
    Bare(u16),
    /// This bare status, or the connection closed without an answer.
    BareOrClose(u16),
    /// This status (200, or 206 with its `Content-Range`) with exactly the
    /// bytes `start..end` of the fixture's published file as the body.
    FileBytes(u16, usize, usize),
    /// This status with this code, and then the connection closed by the
    /// server, as for a body it did not read to its end.
    ErrorThenClose(u16, &'static str),
}

/// One hostile request and the answer it must get.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    pub request: RawRequest,
    pub expect: Expect,
}

fn case(name: &'static str, request: RawRequest, status: u16, code: &'static str) -> Case {
    Case {
        name,
        request,
        expect: Expect::Error(status, code),
    }
}

/// A case the HTTP engine refuses itself with a bare `status`.
fn bare(name: &'static str, request: RawRequest, status: u16) -> Case {
    Case {
        name,
        request,
        expect: Expect::Bare(status),
    }
}

const INVALID: &str = "invalid-request";

/// Chunk size of the fixture session.
pub const CHUNK: usize = 1024;

/// The bytes of the fixture session: chunks of 1024, 1024 and 512 bytes.
pub fn session_data() -> Vec<u8> {
    test_bytes(2 * CHUNK + CHUNK / 2, 7)
}

/// What the HTTP engine writes when it refuses a head itself.
pub const BARE_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";

/// One read piece of a local store.
pub const PIECE: usize = 256 << 10;

/// The bytes of the fixture's published file: one read piece, then what
/// looks like the engine's bare 400, which a download of the whole file
/// writes on its own.
pub fn file_data() -> Vec<u8> {
    let mut data = test_bytes(PIECE, 9);
    data.extend_from_slice(BARE_400);
    data
}

/// Bytes whose hash has no session and no file.
pub fn fresh_data() -> Vec<u8> {
    test_bytes(300, 11)
}

fn session() -> String {
    sha256_hex(&session_data())
}

fn file() -> String {
    sha256_hex(&file_data())
}

fn fresh() -> String {
    sha256_hex(&fresh_data())
}

/// The bytes of chunk 1 of the fixture session: the right length, so that
/// only what the case gets wrong is wrong.
fn chunk_one() -> Vec<u8> {
    session_data()[CHUNK..2 * CHUNK].to_vec()
}

/// A create body for the fresh hash and size with `extra` members.
fn create_with(extra: &str) -> String {
    format!(r#"{{"sha256":"{}","size":300{extra}}}"#, fresh())
}

fn put_chunk(index: &str, headers: &[(&str, &str)], body: &[u8]) -> RawRequest {
    request(
        "PUT",
        &format!("/v1/uploads/{}/chunks/{index}", session()),
        headers,
        body,
    )
}

const BOUNDARY: &str = "hostile-boundary";

/// A form body with `parts` (name, content), closed properly.
fn form(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = form_open(parts);
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A form body with `parts` and no closing boundary.
fn form_open(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, content) in parts {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body
}

fn post_form(path: &str, body: &[u8]) -> RawRequest {
    let media_type = format!("multipart/form-data; boundary={BOUNDARY}");
    request("POST", path, &[("Content-Type", &media_type)], body)
}

fn post_chunk_form(index: &str, body: &[u8]) -> RawRequest {
    post_form(&format!("/v1/uploads/{}/chunks/{index}", session()), body)
}

/// A one-request form for the fresh bytes with its hash, plus `extra` parts.
fn file_form(extra: &[(&str, &[u8])]) -> Vec<u8> {
    let hash = fresh();
    let data = fresh_data();
    let mut parts: Vec<(&str, &[u8])> = vec![("sha256", hash.as_bytes()), ("file", &data)];
    parts.extend_from_slice(extra);
    form(&parts)
}

/// Every category, for counting.
pub fn all() -> Vec<Case> {
    [
        malformed_json(),
        numbers_out_of_range(),
        malformed_hashes(),
        chunk_indices_outside_the_file(),
        unsafe_names(),
        wrong_media_types(),
        bodies_cut_short_or_too_long(),
        wrong_digests(),
        malformed_forms(),
        oversized_or_ambiguous_heads(),
        stalled_heads_and_bodies(),
        downloads_of_bytes_that_look_like_a_refusal(),
        bodies_nobody_reads(),
        listings_and_deletes_out_of_range(),
    ]
    .concat()
}

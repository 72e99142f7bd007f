//! Unit tests of the range and conditional logic, one file per part of RFC 9110.

use super::*;
use proptest::prelude::*;
use std::time::{Duration, UNIX_EPOCH};

const ETAG: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const OTHER_ETAG: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
const MODIFIED_SECS: u64 = 784_111_777;
const MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const ONE_SECOND_EARLIER: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
const ONE_SECOND_LATER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";
const LENGTH: u64 = 1000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn file(length: u64) -> Validators<'static> {
    Validators {
        etag: ETAG,
        last_modified: at(MODIFIED_SECS),
        length,
    }
}

fn decide(conditions: Conditions<'_>) -> Decision {
    evaluate(&conditions, &file(LENGTH))
}

fn ranged(range: &str) -> Conditions<'_> {
    Conditions {
        range: Some(range),
        ..Conditions::default()
    }
}

fn if_match(value: &str) -> Conditions<'_> {
    Conditions {
        if_match: Some(value),
        ..Conditions::default()
    }
}

fn br(start: u64, end: u64) -> ByteRange {
    ByteRange { start, end }
}

fn satisfiable(ranges: &[(u64, u64)]) -> RangeRequest {
    RangeRequest::Satisfiable(ranges.iter().map(|&(s, e)| br(s, e)).collect())
}

fn quoted(tag: &str) -> String {
    format!("\"{tag}\"")
}

fn weak(tag: &str) -> String {
    format!("W/\"{tag}\"")
}

fn build_body(layout: &MultipartLayout, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (preamble, range) in &layout.parts {
        body.extend_from_slice(preamble.as_bytes());
        body.extend_from_slice(&data[range.start as usize..=range.end as usize]);
    }
    body.extend_from_slice(layout.epilogue.as_bytes());
    body
}

mod byte_ranges;
mod multipart;
mod precedence;
mod preconditions;
mod properties;

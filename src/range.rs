//! Pure HTTP logic for serving immutable, content-addressed files to CDNs:
//! conditional requests (RFC 9110 §13), byte ranges (§14) and the exact
//! layout of `multipart/byteranges` bodies. Nothing here does I/O; callers
//! pass raw header values in and get a [`Decision`] back.
//!
//! Choices the RFC leaves open, made here on purpose:
//! - A Range header that is syntactically invalid in any member (including
//!   `bytes=5-3`, whitespace around `=`, or a second `bytes=` from a joined
//!   duplicate header) is ignored as a whole, so the full file is served.
//! - A Range header with more than [`MAX_RANGES`] non-empty members is ignored.
//! - Ranges already listed in strictly ascending, non-overlapping order are
//!   served exactly as requested, even when adjacent (`0-9,10-19` gives two
//!   parts). Any other set is sorted, and overlapping or adjacent ranges are
//!   merged. The parts therefore never overlap and never add up to more than
//!   the representation's length.
//! - A set that covers the whole representation (`bytes=0-`, `bytes=-N` with
//!   `N >= length`, or pieces that merge into `0-(length-1)`) is still
//!   answered with 206 and a single whole-file range.
//! - Any Range on a zero-length representation is ignored (200, empty body).
//! - Entity-tag lists are parsed member by member: a malformed member never
//!   matches but does not spoil well-formed members; `*` counts as matching
//!   wherever it appears; unquoted tags never match.
//! - An If-Range value that is neither one entity-tag nor a valid HTTP-date
//!   never matches, so the full file is served.
//! - Times are compared in whole seconds, clamped to what an HTTP-date can
//!   express (1970 to 9999), i.e. to the value sent in `Last-Modified` by
//!   [`format_http_date`].

use std::cmp::Ordering;
use std::time::SystemTime;

#[cfg(test)]
mod tests;
mod validators;

pub use validators::format_http_date;
use validators::{http_seconds, if_range_matches, list_matches, parse_date};

/// Max number of ranges honoured in one request; more and the Range header is ignored (full 200).
pub const MAX_RANGES: usize = 64;

const OWS: [char; 2] = [' ', '\t'];

/// An inclusive byte range of a representation, already clamped to its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// Offset of the first byte.
    pub start: u64,
    /// Offset of the last byte (inclusive).
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes covered: 0 if `end < start`, saturating at `u64::MAX`.
    pub fn len(&self) -> u64 {
        self.end
            .checked_sub(self.start)
            .map_or(0, |span| span.saturating_add(1))
    }

    /// Whether the range covers no byte, which only a malformed `end < start` does.
    pub fn is_empty(&self) -> bool {
        self.end < self.start
    }

    /// The `Content-Range` field value for this range, e.g. `bytes 0-99/1000`.
    pub fn content_range(&self, complete_length: u64) -> String {
        format!("bytes {}-{}/{}", self.start, self.end, complete_length)
    }
}

/// The `Content-Range` field value of a 416 answer, e.g. `bytes */1000`.
pub fn unsatisfied_content_range(complete_length: u64) -> String {
    format!("bytes */{complete_length}")
}

/// What the server knows about the file being served.
#[derive(Debug, Clone, Copy)]
pub struct Validators<'a> {
    /// The opaque tag without quotes (a 64-hex sha256).
    pub etag: &'a str,
    /// When the file was last modified; only whole seconds count.
    pub last_modified: SystemTime,
    /// The file's length in bytes.
    pub length: u64,
}

/// The request's relevant header values, raw (several instances of one header joined with ", ").
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditions<'a> {
    /// True for HEAD, false for GET.
    pub is_head: bool,
    /// The If-Match field value.
    pub if_match: Option<&'a str>,
    /// The If-None-Match field value.
    pub if_none_match: Option<&'a str>,
    /// The If-Modified-Since field value.
    pub if_modified_since: Option<&'a str>,
    /// The If-Unmodified-Since field value.
    pub if_unmodified_since: Option<&'a str>,
    /// The If-Range field value.
    pub if_range: Option<&'a str>,
    /// The Range field value.
    pub range: Option<&'a str>,
}

/// How to answer a GET or HEAD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// 200 with the whole file.
    Full,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    PreconditionFailed,
    /// 206 with one range and a `Content-Range` header.
    Partial(ByteRange),
    /// 206 with a `multipart/byteranges` body of these ranges, in this order.
    MultiPart(Vec<ByteRange>),
    /// 416 with `Content-Range: bytes */length`.
    NotSatisfiable,
}

/// Outcome of parsing a Range header against a length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// The header is invalid, of another unit, too long, or the file is empty: serve it all.
    Ignored,
    /// The header is valid but no range in it overlaps the file.
    Unsatisfiable,
    /// The ranges to send, non-empty, disjoint, at most [`MAX_RANGES`] of them.
    Satisfiable(Vec<ByteRange>),
}

/// Decides the answer to a GET or HEAD following RFC 9110 §13.2.2, then §14.
pub fn evaluate(conditions: &Conditions<'_>, validators: &Validators<'_>) -> Decision {
    let modified = http_seconds(validators.last_modified);
    let etag = validators.etag;
    match conditions.if_match {
        Some(value) => {
            if !list_matches(value, |tag| tag.matches_strongly(etag)) {
                return Decision::PreconditionFailed;
            }
        }
        None => {
            if parse_date(conditions.if_unmodified_since).is_some_and(|date| modified > date) {
                return Decision::PreconditionFailed;
            }
        }
    }
    match conditions.if_none_match {
        Some(value) => {
            if list_matches(value, |tag| tag.opaque == etag) {
                return Decision::NotModified;
            }
        }
        None => {
            if parse_date(conditions.if_modified_since).is_some_and(|date| modified <= date) {
                return Decision::NotModified;
            }
        }
    }
    if conditions.is_head {
        return Decision::Full;
    }
    let Some(range) = conditions.range else {
        return Decision::Full;
    };
    if conditions
        .if_range
        .is_some_and(|value| !if_range_matches(value, validators))
    {
        return Decision::Full;
    }
    match parse_range(range, validators.length) {
        RangeRequest::Ignored => Decision::Full,
        RangeRequest::Unsatisfiable => Decision::NotSatisfiable,
        RangeRequest::Satisfiable(ranges) => match ranges.as_slice() {
            [] => Decision::Full,
            [single] => Decision::Partial(*single),
            _ => Decision::MultiPart(ranges),
        },
    }
}

/// Parses a Range field value against a representation of `length` bytes.
pub fn parse_range(header: &str, length: u64) -> RangeRequest {
    if length == 0 {
        return RangeRequest::Ignored;
    }
    let Some((unit, set)) = header.trim_matches(OWS).split_once('=') else {
        return RangeRequest::Ignored;
    };
    if !unit.eq_ignore_ascii_case("bytes") {
        return RangeRequest::Ignored;
    }
    let mut ranges = Vec::new();
    let mut members = 0usize;
    for member in set.split(',').map(|m| m.trim_matches(OWS)) {
        if member.is_empty() {
            continue;
        }
        members = members.saturating_add(1);
        if members > MAX_RANGES {
            return RangeRequest::Ignored;
        }
        match parse_range_spec(member, length) {
            Spec::Invalid => return RangeRequest::Ignored,
            Spec::Unsatisfiable => {}
            Spec::Satisfiable(range) => ranges.push(range),
        }
    }
    if members == 0 {
        RangeRequest::Ignored
    } else if ranges.is_empty() {
        RangeRequest::Unsatisfiable
    } else {
        RangeRequest::Satisfiable(normalize(ranges))
    }
}

/// The exact layout of a multipart/byteranges body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartLayout {
    /// The boundary separating the parts.
    pub boundary: String,
    /// Each part's preamble (delimiter and part headers) followed by the range whose bytes come next.
    pub parts: Vec<(String, ByteRange)>,
    /// The closing delimiter, written after the last part's bytes.
    pub epilogue: String,
    /// Total body length in bytes (saturating), for the `Content-Length` header.
    pub content_length: u64,
}

/// Lays out a multipart/byteranges body; `content_type` and `boundary` must be valid header text.
pub fn multipart_layout(
    ranges: &[ByteRange],
    content_type: &str,
    complete_length: u64,
    boundary: &str,
) -> MultipartLayout {
    let parts: Vec<(String, ByteRange)> = ranges
        .iter()
        .map(|range| {
            let preamble = format!(
                "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
                range.content_range(complete_length)
            );
            (preamble, *range)
        })
        .collect();
    let epilogue = format!("\r\n--{boundary}--\r\n");
    let content_length = parts
        .iter()
        .fold(byte_len(&epilogue), |total, (preamble, range)| {
            total
                .saturating_add(byte_len(preamble))
                .saturating_add(range.len())
        });
    MultipartLayout {
        boundary: boundary.to_owned(),
        parts,
        epilogue,
        content_length,
    }
}

/// The `Content-Type` of a multipart answer, e.g. `multipart/byteranges; boundary=B`.
pub fn multipart_content_type(boundary: &str) -> String {
    if !boundary.is_empty() && boundary.bytes().all(is_tchar) {
        return format!("multipart/byteranges; boundary={boundary}");
    }
    let mut quoted = String::with_capacity(boundary.len().saturating_add(2));
    for c in boundary.chars() {
        if matches!(c, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    format!("multipart/byteranges; boundary=\"{quoted}\"")
}

enum Spec {
    Invalid,
    Unsatisfiable,
    Satisfiable(ByteRange),
}

fn parse_range_spec(spec: &str, length: u64) -> Spec {
    let last_byte = length.saturating_sub(1);
    let Some((first, last)) = spec.split_once('-') else {
        return Spec::Invalid;
    };
    if first.is_empty() {
        if !is_digits(last) {
            return Spec::Invalid;
        }
        return match saturating_decimal(last) {
            0 => Spec::Unsatisfiable,
            suffix => Spec::Satisfiable(ByteRange {
                start: length.saturating_sub(suffix),
                end: last_byte,
            }),
        };
    }
    let open_ended = last.is_empty();
    if !is_digits(first) || !(open_ended || is_digits(last)) {
        return Spec::Invalid;
    }
    if !open_ended && cmp_decimal(last, first) == Ordering::Less {
        return Spec::Invalid;
    }
    let start = saturating_decimal(first);
    if start >= length {
        return Spec::Unsatisfiable;
    }
    let end = if open_ended {
        last_byte
    } else {
        saturating_decimal(last).min(last_byte)
    };
    Spec::Satisfiable(ByteRange { start, end })
}

fn normalize(mut ranges: Vec<ByteRange>) -> Vec<ByteRange> {
    let ascending = ranges
        .windows(2)
        .all(|pair| matches!(pair, [a, b] if a.end < b.start));
    if ascending {
        return ranges;
    }
    ranges.sort_unstable_by_key(|range| range.start);
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end.saturating_add(1) => {
                last.end = last.end.max(range.end);
            }
            _ => merged.push(range),
        }
    }
    merged
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn saturating_decimal(digits: &str) -> u64 {
    digits.bytes().fold(0u64, |value, digit| {
        value
            .saturating_mul(10)
            .saturating_add(u64::from(digit.saturating_sub(b'0')))
    })
}

fn cmp_decimal(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn byte_len(s: &str) -> u64 {
    u64::try_from(s.len()).unwrap_or(u64::MAX)
}

//! Validators: entity-tags (RFC 9110 §8.8.3) and HTTP-dates (§5.6.7) as
//! conditional headers carry them, compared the way §13 asks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{OWS, Validators};

/// The last second an HTTP-date can express: 9999-12-31 23:59:59 UTC.
const MAX_HTTP_SECONDS: u64 = 253_402_300_799;

/// Formats a time as an IMF-fixdate for `Last-Modified`, in whole seconds clamped to 1970..=9999.
pub fn format_http_date(t: SystemTime) -> String {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(http_seconds(t)))
        .map_or_else(
            || String::from("Thu, 01 Jan 1970 00:00:00 GMT"),
            httpdate::fmt_http_date,
        )
}

/// One entity-tag of a conditional header.
pub(super) struct EntityTag<'a> {
    weak: bool,
    pub(super) opaque: &'a str,
}

impl EntityTag<'_> {
    pub(super) fn matches_strongly(&self, etag: &str) -> bool {
        !self.weak && self.opaque == etag
    }
}

fn split_entity_tag(s: &str) -> Option<(EntityTag<'_>, &str)> {
    let (weak, tagged) = match s.strip_prefix("W/") {
        Some(tagged) => (true, tagged),
        None => (false, s),
    };
    let (opaque, rest) = tagged.strip_prefix('"')?.split_once('"')?;
    let valid = opaque
        .bytes()
        .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80);
    valid.then_some((EntityTag { weak, opaque }, rest))
}

pub(super) fn list_matches(value: &str, accept: impl Fn(&EntityTag<'_>) -> bool) -> bool {
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return false;
        }
        let (matched, after) = if let Some(after) = rest.strip_prefix('*') {
            (true, after)
        } else if let Some((tag, after)) = split_entity_tag(rest) {
            (accept(&tag), after)
        } else {
            (false, rest)
        };
        let after = after.trim_start_matches(OWS);
        if after.is_empty() || after.starts_with(',') {
            if matched {
                return true;
            }
            rest = after;
        } else {
            rest = after.split_once(',').map_or("", |(_, next)| next);
        }
    }
}

pub(super) fn if_range_matches(value: &str, validators: &Validators<'_>) -> bool {
    let value = value.trim_matches(OWS);
    if value.starts_with('"') || value.starts_with("W/") {
        return split_entity_tag(value).is_some_and(|(tag, rest)| {
            rest.trim_matches(OWS).is_empty() && tag.matches_strongly(validators.etag)
        });
    }
    parse_date(Some(value)) == Some(http_seconds(validators.last_modified))
}

pub(super) fn parse_date(value: Option<&str>) -> Option<u64> {
    let parsed = httpdate::parse_http_date(value?.trim_matches(OWS)).ok()?;
    Some(http_seconds(parsed))
}

pub(super) fn http_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
        .min(MAX_HTTP_SECONDS)
}

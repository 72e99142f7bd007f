//! The `Content-Range` of a 206 answer: which bytes of the file it holds.

use std::ops::Range;

/// The span `bytes a-b/n` names, as a half-open range, when the unit is
/// `bytes` (in any case), the span is well formed and lies within the file,
/// and the complete length `n` is `size`; `None` for anything else.
pub(super) fn span(value: &str, size: u64) -> Option<Range<u64>> {
    let (unit, rest) = value.trim().split_once(' ')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let (span, complete) = rest.trim().split_once('/')?;
    if number(complete)? != size {
        return None;
    }
    let (first, last) = span.split_once('-')?;
    let (first, last) = (number(first)?, number(last)?);
    (first <= last && last < size).then_some(first..last.checked_add(1)?)
}

/// A decimal number of digits only (no sign), surrounding blanks ignored.
fn number(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_content_range_names_a_half_open_span() {
        assert_eq!(span("bytes 0-99/1000", 1000), Some(0..100));
        assert_eq!(span("bytes 5-5/6", 6), Some(5..6));
    }

    #[test]
    fn the_unit_is_matched_in_any_case() {
        assert_eq!(span("Bytes 0-0/1", 1), Some(0..1));
        assert_eq!(span("BYTES 0-0/1", 1), Some(0..1));
        assert_eq!(span("items 0-0/1", 1), None);
    }

    #[test]
    fn a_complete_length_other_than_the_files_size_is_refused() {
        assert_eq!(span("bytes 0-99/1001", 1000), None);
        assert_eq!(span("bytes 0-99/*", 1000), None);
    }

    #[test]
    fn a_malformed_or_impossible_span_is_refused() {
        assert_eq!(span("bytes */1000", 1000), None);
        assert_eq!(span("bytes 9-3/10", 10), None);
        assert_eq!(span("bytes 5-10/10", 10), None);
        assert_eq!(span("bytes +1-2/10", 10), None);
        let huge = format!("bytes 0-{}/{}", u64::MAX, u64::MAX);
        assert_eq!(span(&huge, u64::MAX), None);
    }
}

//! What to transfer: the chunks an upload still needs, where each lies in the
//! file, and how a download's missing tail is cut into ranges.

use std::ops::Range;

use ferry_proto::missing_ranges;

/// Smallest range a download asks for at once.
const MIN_SEGMENT: u64 = 64 << 10;
/// Largest range a download asks for at once (and holds in memory).
const MAX_SEGMENT: u64 = 8 << 20;
/// Ranges per parallel request slot, so that slow ranges do not leave slots idle.
const SEGMENTS_PER_SLOT: u64 = 4;

/// The indices of [`missing_ranges`], ascending, one at a time.
pub fn missing_chunks(chunk_count: u64, received: &[[u64; 2]]) -> impl Iterator<Item = u64> {
    missing_ranges(chunk_count, received)
        .into_iter()
        .flat_map(|[first, last]| first..=last)
}

/// The bytes of chunk `index` of a `size`-byte file cut into `chunk_size`
/// chunks, or `None` when the index lies outside the file.
pub fn chunk_span(size: u64, chunk_size: u64, index: u64) -> Option<Range<u64>> {
    let start = index.checked_mul(chunk_size)?;
    if chunk_size == 0 || start >= size {
        return None;
    }
    Some(start..size.min(start.saturating_add(chunk_size)))
}

/// The byte ranges that fetch `[start, size)` with `parallel` requests in
/// flight: equal ranges (the last holds the rest) of 64 KiB to 8 MiB, about
/// four per request slot.
pub fn segments(start: u64, size: u64, parallel: usize) -> Vec<Range<u64>> {
    if start >= size {
        return Vec::new();
    }
    let slots = (parallel.max(1) as u64).saturating_mul(SEGMENTS_PER_SLOT);
    let length = (size - start)
        .div_ceil(slots)
        .next_multiple_of(MIN_SEGMENT)
        .clamp(MIN_SEGMENT, MAX_SEGMENT);
    (start..size)
        .step_by(usize::try_from(length).unwrap_or(usize::MAX))
        .map(|from| from..size.min(from + length))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(chunk_count: u64, received: &[[u64; 2]]) -> Vec<u64> {
        missing_chunks(chunk_count, received).collect()
    }

    #[test]
    fn a_fresh_session_misses_every_chunk() {
        assert_eq!(missing(4, &[]), [0, 1, 2, 3]);
    }

    #[test]
    fn received_ranges_are_inclusive_and_leave_the_gaps() {
        assert_eq!(missing(13, &[[0, 3], [5, 5]]), [4, 6, 7, 8, 9, 10, 11, 12]);
    }

    #[test]
    fn a_complete_session_misses_nothing() {
        assert!(missing(3, &[[0, 2]]).is_empty());
        assert!(missing(0, &[]).is_empty());
    }

    #[test]
    fn unsorted_overlapping_and_out_of_bounds_ranges_are_tolerated() {
        assert_eq!(
            missing(10, &[[6, 20], [1, 2], [2, 3], [9, 4], [30, 40]]),
            [0, 4, 5]
        );
    }

    #[test]
    fn every_chunk_but_the_last_is_chunk_size_long() {
        assert_eq!(chunk_span(10, 4, 0), Some(0..4));
        assert_eq!(chunk_span(10, 4, 1), Some(4..8));
        assert_eq!(chunk_span(10, 4, 2), Some(8..10));
        assert_eq!(chunk_span(10, 4, 3), None);
    }

    #[test]
    fn chunk_spans_tile_the_file_exactly() {
        let (size, chunk_size): (u64, u64) = (1_000_003, 65_536);
        let spans: Vec<_> = (0..size.div_ceil(chunk_size))
            .map(|index| chunk_span(size, chunk_size, index))
            .collect::<Option<_>>()
            .expect("every index below the count has a span");
        assert_eq!(spans.first().map(|s| s.start), Some(0));
        assert_eq!(spans.last().map(|s| s.end), Some(size));
        assert!(spans.windows(2).all(|pair| pair[0].end == pair[1].start));
    }

    #[test]
    fn an_empty_file_or_a_zero_chunk_size_has_no_chunks() {
        assert_eq!(chunk_span(0, 4, 0), None);
        assert_eq!(chunk_span(10, 0, 0), None);
        assert_eq!(chunk_span(u64::MAX, 2, u64::MAX), None);
    }

    #[test]
    fn segments_cover_the_missing_tail_without_gaps() {
        let parts = segments(100_000, 4 << 20, 4);
        assert_eq!(parts.first().map(|r| r.start), Some(100_000));
        assert_eq!(parts.last().map(|r| r.end), Some(4 << 20));
        assert!(parts.windows(2).all(|pair| pair[0].end == pair[1].start));
        assert!(parts.len() > 4, "several ranges per request slot");
    }

    #[test]
    fn segments_stay_between_64_kib_and_8_mib() {
        assert!(
            segments(0, 1 << 30, 4)
                .iter()
                .all(|r| r.end - r.start <= 8 << 20)
        );
        let small = segments(0, 100_000, 8);
        assert_eq!(small, [0..65_536, 65_536..100_000]);
    }

    #[test]
    fn nothing_is_fetched_when_the_part_is_whole() {
        assert!(segments(10, 10, 4).is_empty());
        assert!(segments(0, 0, 4).is_empty());
        assert!(segments(11, 10, 4).is_empty());
    }
}

//! Sets of chunk indices written as inclusive `[first, last]` ranges, as
//! an upload's `received_chunks` carries them: folded from indices, and
//! the chunks still missing told from them.

/// Folds ascending indices into sorted, merged, inclusive `[first, last]`
/// ranges.
pub fn to_ranges(sorted_indices: impl IntoIterator<Item = u64>) -> Vec<[u64; 2]> {
    let mut ranges: Vec<[u64; 2]> = Vec::new();
    for index in sorted_indices {
        match ranges.last_mut() {
            Some(last) if index <= last[1].saturating_add(1) => last[1] = last[1].max(index),
            _ => ranges.push([index, index]),
        }
    }
    ranges
}

/// The inclusive index ranges in `[0, chunk_count)` that none of the
/// inclusive `received` ranges covers, ascending. Ranges may be unsorted,
/// overlapping or out of bounds. As long as `received`, whatever the count.
pub fn missing_ranges(chunk_count: u64, received: &[[u64; 2]]) -> Vec<[u64; 2]> {
    let mut ranges: Vec<[u64; 2]> = received
        .iter()
        .filter(|[first, last]| first <= last && *first < chunk_count)
        .map(|&[first, last]| [first, last.min(chunk_count - 1)])
        .collect();
    ranges.sort_unstable();
    let mut missing = Vec::new();
    let mut next = 0;
    for [first, last] in ranges {
        if first > next {
            missing.push([next, first - 1]);
        }
        next = next.max(last + 1);
    }
    if next < chunk_count {
        missing.push([next, chunk_count - 1]);
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_indices_fold_into_one_range() {
        assert_eq!(
            to_ranges([0, 1, 2, 3, 5, 7, 8]),
            vec![[0, 3], [5, 5], [7, 8]]
        );
    }

    #[test]
    fn no_indices_fold_into_no_ranges() {
        assert!(to_ranges([]).is_empty());
    }

    #[test]
    fn missing_ranges_are_the_gaps_and_the_tail() {
        assert_eq!(
            missing_ranges(8, &to_ranges([1, 2, 5])),
            vec![[0, 0], [3, 4], [6, 7]]
        );
    }

    #[test]
    fn nothing_is_missing_when_every_index_is_there() {
        assert!(missing_ranges(3, &to_ranges([0, 1, 2])).is_empty());
        assert!(missing_ranges(0, &to_ranges([])).is_empty());
    }

    #[test]
    fn missing_ranges_are_the_gaps_between_received_ranges() {
        assert_eq!(missing_ranges(13, &[[0, 3], [5, 5]]), [[4, 4], [6, 12]]);
    }

    #[test]
    fn unsorted_overlapping_and_out_of_bounds_ranges_leave_the_same_gaps() {
        assert_eq!(
            missing_ranges(10, &[[6, 20], [1, 2], [2, 3], [9, 4], [30, 40]]),
            [[0, 0], [4, 5]]
        );
    }

    #[test]
    fn a_huge_chunk_count_is_told_in_ranges_without_counting_them() {
        assert_eq!(
            missing_ranges(u64::MAX, &[[1, 1]]),
            [[0, 0], [2, u64::MAX - 1]]
        );
    }
}

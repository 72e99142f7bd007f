//! Sets of chunk indices written as sorted, merged, inclusive ranges.

/// Folds ascending indices into inclusive `[first, last]` runs.
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

/// The runs of `[0, count)` absent from the ascending `received` indices.
pub fn missing_ranges(received: &[u64], count: u64) -> Vec<[u64; 2]> {
    let mut missing = Vec::new();
    let mut next = 0u64;
    for &index in received {
        if index >= count {
            break;
        }
        if index > next {
            missing.push([next, index - 1]);
        }
        next = next.max(index + 1);
    }
    if next < count {
        missing.push([next, count - 1]);
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
        assert_eq!(missing_ranges(&[1, 2, 5], 8), vec![[0, 0], [3, 4], [6, 7]]);
    }

    #[test]
    fn nothing_is_missing_when_every_index_is_there() {
        assert!(missing_ranges(&[0, 1, 2], 3).is_empty());
        assert!(missing_ranges(&[], 0).is_empty());
    }
}

//! The set of chunks a session has received, as the bits the database keeps
//! on the session's row: bit `i % 8` of byte `i / 8` for chunk `i`.

use super::ReceivedChunks;

/// A cleared set for `count` chunks.
pub(super) fn empty(count: u64) -> Vec<u8> {
    vec![0; usize::try_from(count.div_ceil(8)).unwrap_or(0)]
}

/// Adds chunk `index`; `false` when it was there already or lies outside.
pub(super) fn insert(bits: &mut [u8], index: u64) -> bool {
    let Some(byte) = usize::try_from(index / 8)
        .ok()
        .and_then(|at| bits.get_mut(at))
    else {
        return false;
    };
    let mask = 1u8 << (index % 8);
    let added = *byte & mask == 0;
    *byte |= mask;
    added
}

/// Takes chunk `index` out of the set; nothing when it was not there.
pub(super) fn remove(bits: &mut [u8], index: u64) {
    if let Some(byte) = usize::try_from(index / 8)
        .ok()
        .and_then(|at| bits.get_mut(at))
    {
        *byte &= !(1u8 << (index % 8));
    }
}

/// How many chunks are in the set, and their bytes, for a file of `size`
/// bytes cut in chunks of `chunk_size`, every chunk but the last full.
pub(super) fn totals(bits: &[u8], size: u64, chunk_size: u64) -> (u64, u64) {
    let summed = summed_up(bits, size, chunk_size);
    let count = summed
        .runs
        .iter()
        .map(|[first, last]| last - first + 1)
        .sum();
    (count, summed.bytes)
}

/// The received runs and bytes of a file of `size` bytes cut in chunks of
/// `chunk_size`, every chunk but the last full.
pub(super) fn summed_up(bits: &[u8], size: u64, chunk_size: u64) -> ReceivedChunks {
    let count = size.div_ceil(chunk_size.max(1));
    let mut received = ReceivedChunks::default();
    let mut run: Option<[u64; 2]> = None;
    for index in 0..count {
        let held = usize::try_from(index / 8)
            .ok()
            .and_then(|at| bits.get(at))
            .is_some_and(|byte| byte & (1 << (index % 8)) != 0);
        if held {
            received.bytes += (size - index * chunk_size).min(chunk_size);
            match &mut run {
                Some(open) => open[1] = index,
                None => run = Some([index, index]),
            }
        } else if let Some(closed) = run.take() {
            received.runs.push(closed);
        }
    }
    received.runs.extend(run);
    received
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_added_in_any_order_sum_up_to_sorted_runs_and_exact_bytes() {
        let mut bits = empty(11);
        for index in [10, 0, 2, 1, 5, 7, 8] {
            assert!(insert(&mut bits, index));
        }
        assert!(!insert(&mut bits, 5), "a chunk already there");
        assert!(!insert(&mut bits, 16), "an index outside the set");
        assert_eq!(
            summed_up(&bits, 105, 10),
            ReceivedChunks {
                runs: vec![[0, 2], [5, 5], [7, 8], [10, 10]],
                bytes: 65,
            }
        );
        assert_eq!(totals(&bits, 105, 10), (7, 65));
        assert_eq!(summed_up(&empty(0), 0, 10), ReceivedChunks::default());
    }
}

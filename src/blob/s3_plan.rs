//! How a file made of chunk objects becomes the parts of one object in a
//! bucket: every chunk at least as large as the bucket's smallest part is
//! copied by the bucket itself; runs of smaller chunks are joined into a
//! part that ferry streams through; only the last part may be small.

use std::ops::Range;

use super::compose::ComposePart;
use crate::ids::ObjectKey;

/// The most parts S3 takes in one multipart upload.
pub(super) const MAX_PARTS: usize = 10_000;

/// Bytes of one source object that go into a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Segment {
    /// The source object.
    pub(super) key: ObjectKey,
    /// Its bytes that go in, end exclusive.
    pub(super) range: Range<u64>,
    /// Whether the range is the whole object.
    pub(super) whole: bool,
}

impl Segment {
    fn len(&self) -> u64 {
        self.range.end - self.range.start
    }
}

/// One part of the composed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PlannedPart {
    /// Bytes of one source, copied inside the bucket.
    Copy(Segment),
    /// Bytes of several sources, read and sent by ferry.
    Stream(Vec<Segment>),
}

impl PlannedPart {
    /// Bytes ferry streams for this part.
    pub(super) fn streamed_bytes(&self) -> u64 {
        match self {
            PlannedPart::Copy(_) => 0,
            PlannedPart::Stream(segments) => segments.iter().map(Segment::len).sum(),
        }
    }
}

/// The parts of an object made of `sources`, in
/// order, none but the last smaller than `min_part` bytes, and no more than
/// S3 takes: the floor is raised until they fit.
pub(super) fn plan(sources: &[ComposePart], min_part: u64) -> Vec<PlannedPart> {
    let mut floor = min_part.max(1);
    loop {
        let parts = plan_with(sources, floor);
        if parts.len() <= MAX_PARTS {
            return parts;
        }
        floor = floor.saturating_mul(2);
    }
}

fn plan_with(sources: &[ComposePart], min_part: u64) -> Vec<PlannedPart> {
    let mut parts = Vec::new();
    let mut pending: Vec<Segment> = Vec::new();
    let mut pending_len = 0;
    for ComposePart { key, size } in sources.iter().filter(|source| source.size > 0) {
        let whole = Segment {
            key: key.clone(),
            range: 0..*size,
            whole: true,
        };
        if pending.is_empty() {
            if *size >= min_part {
                parts.push(PlannedPart::Copy(whole));
            } else {
                pending_len = *size;
                pending.push(whole);
            }
            continue;
        }
        let need = min_part - pending_len;
        if *size >= need + min_part {
            pending.push(Segment {
                key: key.clone(),
                range: 0..need,
                whole: false,
            });
            parts.push(PlannedPart::Stream(std::mem::take(&mut pending)));
            parts.push(PlannedPart::Copy(Segment {
                key: key.clone(),
                range: need..*size,
                whole: false,
            }));
            pending_len = 0;
            continue;
        }
        pending_len += size;
        pending.push(whole);
        if pending_len >= min_part {
            parts.push(PlannedPart::Stream(std::mem::take(&mut pending)));
            pending_len = 0;
        }
    }
    match pending.len() {
        0 => {}
        1 => parts.push(PlannedPart::Copy(pending.remove(0))),
        _ => parts.push(PlannedPart::Stream(pending)),
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn sources(sizes: &[u64]) -> Vec<ComposePart> {
        sizes
            .iter()
            .enumerate()
            .map(|(index, size)| ComposePart {
                key: ObjectKey::parse(format!("chunks/u/{index}")).unwrap(),
                size: *size,
            })
            .collect()
    }

    fn shape(parts: &[PlannedPart]) -> Vec<String> {
        parts
            .iter()
            .map(|part| match part {
                PlannedPart::Copy(segment) => format!("copy {:?}", segment.range),
                PlannedPart::Stream(segments) => format!(
                    "stream {}",
                    segments
                        .iter()
                        .map(|s| format!("{:?}", s.range))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            })
            .collect()
    }

    #[test]
    fn chunks_of_a_part_or_more_are_each_copied_and_the_last_may_be_small() {
        let parts = plan(&sources(&[8 * MIB, 8 * MIB, 3 * MIB]), 5 * MIB);
        assert_eq!(
            shape(&parts),
            ["copy 0..8388608", "copy 0..8388608", "copy 0..3145728"]
        );
        assert_eq!(
            parts.iter().map(PlannedPart::streamed_bytes).sum::<u64>(),
            0
        );
    }

    #[test]
    fn small_chunks_are_streamed_in_parts_of_at_least_the_floor() {
        let parts = plan(&sources(&[2 * MIB; 7]), 5 * MIB);
        assert_eq!(parts.len(), 3, "{:?}", shape(&parts));
        assert!(matches!(&parts[0], PlannedPart::Stream(s) if s.len() == 3));
        assert!(matches!(&parts[1], PlannedPart::Stream(s) if s.len() == 3));
        assert!(matches!(&parts[2], PlannedPart::Copy(s) if s.whole));
        assert_eq!(
            parts.iter().map(PlannedPart::streamed_bytes).sum::<u64>(),
            12 * MIB
        );
    }

    #[test]
    fn a_large_chunk_after_small_ones_tops_up_their_part_and_copies_its_rest() {
        let parts = plan(&sources(&[MIB, 20 * MIB]), 5 * MIB);
        assert_eq!(
            shape(&parts),
            ["stream 0..1048576,0..4194304", "copy 4194304..20971520"]
        );
    }

    #[test]
    fn a_chunk_too_small_to_leave_a_part_behind_joins_the_streamed_part() {
        let parts = plan(&sources(&[MIB, 8 * MIB, 8 * MIB]), 5 * MIB);
        assert_eq!(
            shape(&parts),
            ["stream 0..1048576,0..8388608", "copy 0..8388608"]
        );
    }

    #[test]
    fn every_part_but_the_last_reaches_the_floor_and_the_bytes_add_up() {
        let sizes = [3, 1, 7, 2, 9, 1, 1, 12, 4, 5, 6, 1].map(|mib| mib * MIB);
        let parts = plan(&sources(&sizes), 5 * MIB);
        let lengths: Vec<u64> = parts
            .iter()
            .map(|part| match part {
                PlannedPart::Copy(segment) => segment.len(),
                PlannedPart::Stream(segments) => segments.iter().map(Segment::len).sum(),
            })
            .collect();
        assert!(lengths[..lengths.len() - 1].iter().all(|&l| l >= 5 * MIB));
        assert_eq!(lengths.iter().sum::<u64>(), sizes.iter().sum::<u64>());
    }

    #[test]
    fn too_many_parts_raise_the_floor() {
        let parts = plan(&sources(&vec![6 * MIB; MAX_PARTS + 1]), 5 * MIB);
        assert!(parts.len() <= MAX_PARTS);
    }

    #[test]
    fn one_chunk_is_one_copy_and_empty_chunks_are_skipped() {
        assert_eq!(
            shape(&plan(&sources(&[0, 3 * MIB, 0]), 5 * MIB)),
            ["copy 0..3145728"]
        );
        assert!(plan(&sources(&[]), 5 * MIB).is_empty());
    }
}

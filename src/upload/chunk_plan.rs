//! How a file of a given size is cut into chunks, within the server's limits.

use super::limits::Limits;

/// The cut of one file: a fixed chunk size, the last chunk holding the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlan {
    /// Size of the whole file.
    pub size: u64,
    /// Size of every chunk but the last.
    pub chunk_size: u64,
}

/// Why no plan fits the file within the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanError {
    /// The file is larger than the limits allow.
    FileTooLarge,
}

impl ChunkPlan {
    /// Chooses the chunk size: the client's wish (or the default) clamped to
    /// the bounds, then raised so that the chunk count stays within the limit.
    pub fn choose(size: u64, wish: Option<u64>, limits: &Limits) -> Result<Self, PlanError> {
        if size > limits.max_file_size {
            return Err(PlanError::FileTooLarge);
        }
        let wished = wish
            .unwrap_or(limits.default_chunk_size)
            .clamp(limits.min_chunk_size, limits.max_chunk_size);
        let needed = size.div_ceil(limits.max_chunks.max(1));
        let chunk_size = wished.max(needed);
        if chunk_size > limits.max_chunk_size {
            return Err(PlanError::FileTooLarge);
        }
        Ok(ChunkPlan { size, chunk_size })
    }

    /// `ceil(size / chunk_size)`; zero for an empty file.
    pub fn chunk_count(&self) -> u64 {
        self.size.div_ceil(self.chunk_size.max(1))
    }

    /// The exact length of chunk `index`, or `None` outside `[0, chunk_count)`.
    pub fn chunk_len(&self, index: u64) -> Option<u64> {
        if index >= self.chunk_count() {
            return None;
        }
        let start = index * self.chunk_size;
        Some((self.size - start).min(self.chunk_size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_file_size: 1 << 40,
            min_chunk_size: 1024,
            max_chunk_size: 64 << 20,
            default_chunk_size: 8 << 20,
            max_chunks: 10_000,
            direct_upload_max: 16 << 20,
        }
    }

    #[test]
    fn a_wish_below_the_minimum_is_raised_to_it() {
        let plan = ChunkPlan::choose(10_000, Some(10), &limits()).unwrap();
        assert_eq!(plan.chunk_size, 1024);
        assert_eq!(plan.chunk_count(), 10);
    }

    #[test]
    fn a_wish_above_the_maximum_is_lowered_to_it() {
        let plan = ChunkPlan::choose(1 << 30, Some(1 << 30), &limits()).unwrap();
        assert_eq!(plan.chunk_size, 64 << 20);
    }

    #[test]
    fn no_wish_takes_the_default() {
        let plan = ChunkPlan::choose(100 << 20, None, &limits()).unwrap();
        assert_eq!(plan.chunk_size, 8 << 20);
        assert_eq!(plan.chunk_count(), 13);
    }

    #[test]
    fn the_chunk_size_grows_to_keep_the_count_within_the_limit() {
        let size = 200u64 << 30;
        let plan = ChunkPlan::choose(size, Some(1024), &limits()).unwrap();
        assert!(plan.chunk_count() <= 10_000);
        assert_eq!(plan.chunk_size, size.div_ceil(10_000));
    }

    #[test]
    fn a_file_that_needs_chunks_above_the_maximum_is_too_large() {
        let mut limits = limits();
        limits.max_chunks = 2;
        assert_eq!(
            ChunkPlan::choose(200 << 20, None, &limits),
            Err(PlanError::FileTooLarge)
        );
    }

    #[test]
    fn a_file_over_the_maximum_size_is_too_large() {
        let mut limits = limits();
        limits.max_file_size = 10;
        assert_eq!(
            ChunkPlan::choose(11, None, &limits),
            Err(PlanError::FileTooLarge)
        );
    }

    #[test]
    fn the_last_chunk_holds_the_rest() {
        let plan = ChunkPlan::choose(2500, Some(1024), &limits()).unwrap();
        assert_eq!(plan.chunk_count(), 3);
        assert_eq!(plan.chunk_len(0), Some(1024));
        assert_eq!(plan.chunk_len(2), Some(452));
        assert_eq!(plan.chunk_len(3), None);
    }

    #[test]
    fn an_empty_file_has_no_chunks() {
        let plan = ChunkPlan::choose(0, None, &limits()).unwrap();
        assert_eq!(plan.chunk_count(), 0);
        assert_eq!(plan.chunk_len(0), None);
    }
}

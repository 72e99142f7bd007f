//! The size limits the server enforces on uploads.

/// Size limits, all in bytes except `max_chunks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest file accepted.
    pub max_file_size: u64,
    /// Smallest chunk size the server agrees to.
    pub min_chunk_size: u64,
    /// Largest chunk size the server agrees to.
    pub max_chunk_size: u64,
    /// Chunk size used when the client states no wish.
    pub default_chunk_size: u64,
    /// Most chunks one file may be cut into.
    pub max_chunks: u64,
    /// Largest file accepted in one request by `PUT /v1/files/{sha256}`.
    pub direct_upload_max: u64,
}

impl Limits {
    /// Checks that the limits agree with each other, naming the first that does not.
    pub fn validate(&self) -> Result<(), String> {
        if self.min_chunk_size == 0 {
            return Err("the minimum chunk size must be at least 1 byte".into());
        }
        if self.min_chunk_size > self.max_chunk_size {
            return Err("the minimum chunk size is above the maximum".into());
        }
        if self.max_chunks == 0 {
            return Err("the maximum chunk count must be at least 1".into());
        }
        if self.max_file_size.div_ceil(self.max_chunks) > self.max_chunk_size {
            return Err("the maximum file size needs chunks above the maximum chunk size".into());
        }
        Ok(())
    }
}

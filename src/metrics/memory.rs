//! When the metrics of the memory held for request bodies move: the body
//! buffer budget, the hash window, and the chunks arriving that may wait
//! for the chunk before them instead of being held.

use super::Metrics;

impl Metrics {
    /// Bytes of the body buffer budget in use now, and held in the hash
    /// window now.
    pub fn memory_held(&self, body_buffers: u64, hash_window: u64) {
        let gauge = |bytes: u64| i64::try_from(bytes).unwrap_or(i64::MAX);
        self.0.body_buffers_bytes.set(gauge(body_buffers));
        self.0.hash_window_bytes.set(gauge(hash_window));
    }

    /// Chunk uploads being received now.
    pub fn chunks_arriving(&self, chunks: usize) {
        self.0
            .chunks_arriving
            .set(i64::try_from(chunks).unwrap_or(i64::MAX));
    }

    /// A chunk waited for the chunk before it to arrive.
    pub fn chunk_waited(&self) {
        self.0.chunk_waits.inc();
    }

    /// A write refused because the body buffer budget stayed spent.
    pub fn buffer_refused(&self) {
        self.0.body_buffer_refusals.inc();
    }
}

//! What the server counts, for Prometheus: requests, uploads, chunks,
//! merges, downloads, sweeps, the database pool and refused credentials.
//!
//! The metrics themselves are declared once each, in `metrics/families.rs`;
//! this module says when they move. Each server has its own registry, so
//! that servers sharing a process (as tests do) never see each other's
//! counts.
//! Labels are route patterns, methods, statuses and fixed names, never
//! paths, hashes or owners, so the number of series stays bounded whatever
//! clients send.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod families;
mod listen_queue;
mod memory;
mod webhooks;

use families::{
    Families, KindLabel, OutcomeLabel, ProtocolLabels, ReasonLabel, RequestLabels, RouteLabels,
};

/// The media type of [`Metrics::encode`]'s text: the OpenMetrics text
/// format, which Prometheus scrapes natively.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// How a merge that held its lease ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The merged bytes were verified and published.
    Published,
    /// The chunks' bytes did not hash to the key; the upload failed.
    Mismatch,
    /// An accepted chunk was gone from the store; it is to be sent again.
    ChunkLost,
    /// The store refused the merge; the upload failed.
    Refused,
    /// The store failed the merge on its last attempt; the upload failed.
    GaveUp,
    /// Another attempt took the lease over.
    LeaseLost,
    /// The instance stopped and gave the merge back.
    HandedBack,
    /// A store failed; the merge is tried again.
    Failed,
}

impl MergeOutcome {
    fn label(self) -> &'static str {
        match self {
            MergeOutcome::Published => "published",
            MergeOutcome::Mismatch => "mismatch",
            MergeOutcome::ChunkLost => "chunk_lost",
            MergeOutcome::Refused => "refused",
            MergeOutcome::GaveUp => "gave_up",
            MergeOutcome::LeaseLost => "lease_lost",
            MergeOutcome::HandedBack => "handed_back",
            MergeOutcome::Failed => "failed",
        }
    }
}

/// Why an upload failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Its bytes hash to another sha256 (or size) than it was keyed by.
    HashMismatch,
    /// The object store refused its merge.
    StoreRefused,
    /// The object store kept failing its merge past the retry bound.
    StoreUnavailable,
}

/// What a sweep removed or took up, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Expired sessions removed with their chunks.
    pub expired_sessions: usize,
    /// Objects of abandoned merge attempts removed.
    pub orphaned_merges: usize,
    /// Stalled merges taken up again.
    pub resumed_merges: usize,
    /// Objects the database recorded for deletion, deleted.
    pub recorded_deletions: usize,
    /// Objects that no record points at, removed.
    pub leftover_objects: usize,
}

/// Where the database store reports how long each connection took to
/// acquire; clones share the histogram.
#[derive(Clone, Debug)]
pub struct AcquireWaits(prometheus_client::metrics::histogram::Histogram);

impl AcquireWaits {
    /// Counts one wait for a connection of the pool.
    pub fn observe(&self, waited: Duration) {
        self.0.observe(waited.as_secs_f64());
    }
}

/// The server's metrics; clones share the counts.
#[derive(Clone, Debug)]
pub struct Metrics(Arc<Families>);

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Self {
        let families = Families::declare();
        for kind in ["missing", "short"] {
            families
                .stored_file_faults
                .get_or_create(&KindLabel { kind })
                .inc_by(0);
        }
        Metrics(Arc::new(families))
    }

    /// Every metric in the OpenMetrics text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.0.registry) {
            tracing::error!(%error, "could not encode the metrics");
        }
        text
    }

    /// Counts an answered request. `route` is the pattern it matched
    /// ([`UNMATCHED_ROUTE`] for none); a method outside HTTP's own is
    /// counted as `other`.
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let method = method_label(method);
        let route = route.to_owned();
        self.0
            .requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                method,
                status,
            })
            .inc();
        self.0
            .request_duration
            .get_or_create(&RouteLabels { route, method })
            .observe(took.as_secs_f64());
    }

    /// A new upload session.
    pub fn upload_created(&self) {
        self.0.uploads_created.inc();
    }

    /// A create that resumed the owner's live session.
    pub fn upload_resumed(&self) {
        self.0.uploads_resumed.inc();
    }

    /// An upload answered from a file already published.
    pub fn upload_instant(&self) {
        self.0.uploads_instant.inc();
    }

    /// An upload verified and published.
    pub fn upload_completed(&self) {
        self.0.uploads_completed.inc();
    }

    /// An upload that failed, and why.
    pub fn upload_failed(&self, why: Failure) {
        self.0.uploads_failed.inc();
        if why == Failure::HashMismatch {
            self.0.hash_mismatches.inc();
        }
    }

    /// A published file whose object was missing, put back by an upload.
    pub fn file_repaired(&self) {
        self.0.files_repaired.inc();
    }

    /// A chunk of `bytes` accepted.
    pub fn chunk_received(&self, bytes: u64) {
        self.0.chunks_received.inc();
        self.0.received_bytes.inc_by(bytes);
    }

    /// A one-request upload of `bytes` received.
    pub fn file_received(&self, bytes: u64) {
        self.0.received_bytes.inc_by(bytes);
    }

    /// A chunk refused for its digest.
    pub fn digest_mismatch(&self) {
        self.0.digest_mismatches.inc();
    }

    /// A chunk taken into its file's running hash as it arrived, or from
    /// the hash window.
    pub fn chunk_linked(&self) {
        self.0.chunks_linked.inc();
    }

    /// A chunk of `bytes` read back after it was accepted and taken into
    /// its file's running hash.
    pub fn chunk_read_back(&self, bytes: u64) {
        self.0.chunks_linked.inc();
        self.0.chunks_read_back.inc();
        self.0.link_reread_bytes.inc_by(bytes);
    }

    /// `bytes` of chunks a merge read back to hash them.
    pub fn merge_reread(&self, bytes: u64) {
        self.0.merge_reread_bytes.inc_by(bytes);
    }

    /// `bytes` streamed through ferry to compose a file's one object.
    pub fn compose_streamed(&self, bytes: u64) {
        self.0.compose_streamed_bytes.inc_by(bytes);
    }

    /// A download refused because a published file's object was `missing`
    /// or `short`.
    pub fn stored_file_fault(&self, kind: &'static str) {
        self.0
            .stored_file_faults
            .get_or_create(&KindLabel { kind })
            .inc();
    }

    /// A file published in parts moved to its one object.
    pub fn file_moved(&self) {
        self.0.files_moved.inc();
    }

    /// A merge that holds its lease begins; it is counted as running
    /// until the returned timer is finished or dropped.
    pub fn merge_started(&self) -> MergeTimer {
        self.0.merges_in_flight.inc();
        MergeTimer {
            metrics: self.clone(),
            started: Instant::now(),
        }
    }

    /// `bytes` of a published file sent.
    pub fn served(&self, bytes: u64) {
        self.0.served_bytes.inc_by(bytes);
    }

    /// A download answered with part of a file.
    pub fn range_request(&self) {
        self.0.range_requests.inc();
    }

    /// A sweep ran and did `swept`.
    pub fn sweep(&self, swept: Swept) {
        self.0.sweeps.inc();
        for (kind, count) in [
            ("expired_sessions", swept.expired_sessions),
            ("orphaned_merges", swept.orphaned_merges),
            ("resumed_merges", swept.resumed_merges),
            ("recorded_deletions", swept.recorded_deletions),
            ("leftover_objects", swept.leftover_objects),
        ] {
            self.0
                .swept
                .get_or_create(&KindLabel { kind })
                .inc_by(count as u64);
        }
    }

    /// Leftovers the last listing of the store found and kept: waiting out
    /// their quarantine, or for an operator.
    pub fn leftovers_kept(&self, kept: usize) {
        self.0
            .leftovers_kept
            .set(i64::try_from(kept).unwrap_or(i64::MAX));
    }

    /// The database pool's connections in use now.
    pub fn database_connections_in_use(&self, connections: u32) {
        self.0.db_connections_in_use.set(i64::from(connections));
    }

    /// Where the database store reports its waits for connections.
    pub fn acquire_waits(&self) -> AcquireWaits {
        AcquireWaits(self.0.db_acquire_duration.clone())
    }

    /// The outcome of a readiness check.
    pub fn readiness(&self, ready: bool) {
        self.0.ready.set(i64::from(ready));
    }

    /// A request refused for its `credential` (`token` or `link`); `reason`
    /// is a short fixed name.
    pub fn auth_refused(&self, credential: &'static str, reason: &'static str) {
        self.0
            .auth_refusals
            .get_or_create(&ReasonLabel { credential, reason })
            .inc();
    }

    /// An upload whose hash is learned at the end was created, appended
    /// to or completed (`event`) over `protocol` (`tus` or `ietf`).
    pub fn appended_upload(&self, protocol: &'static str, event: &'static str) {
        self.0
            .appended_uploads
            .get_or_create(&ProtocolLabels { protocol, event })
            .inc();
    }
}

/// A running merge, counted in flight until it is finished or dropped.
#[derive(Debug)]
pub struct MergeTimer {
    metrics: Metrics,
    started: Instant,
}

impl MergeTimer {
    /// The merge ended with `outcome`: its duration and outcome are counted.
    pub fn finish(self, outcome: MergeOutcome) {
        let families = &self.metrics.0;
        families
            .merge_duration
            .observe(self.started.elapsed().as_secs_f64());
        families
            .merges
            .get_or_create(&OutcomeLabel {
                outcome: outcome.label(),
            })
            .inc();
    }
}

impl Drop for MergeTimer {
    fn drop(&mut self) {
        self.metrics.0.merges_in_flight.dec();
    }
}

/// HTTP's own methods keep their name; anything else is `other`.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("BREW"), "other");
        assert_eq!(method_label("get"), "other");
    }

    #[test]
    fn two_registries_do_not_share_counts() {
        let one = Metrics::new();
        let other = Metrics::new();
        one.chunk_received(10);
        assert!(one.encode().contains("ferry_received_bytes_total 10\n"));
        assert!(other.encode().contains("ferry_received_bytes_total 0\n"));
    }

    #[test]
    fn a_merge_is_in_flight_until_its_timer_ends() {
        let metrics = Metrics::new();
        let timer = metrics.merge_started();
        assert!(metrics.encode().contains("ferry_merges_in_flight 1\n"));
        timer.finish(MergeOutcome::Published);
        let text = metrics.encode();
        assert!(text.contains("ferry_merges_in_flight 0\n"), "{text}");
        assert!(text.contains("ferry_merges_total{outcome=\"published\"} 1\n"));
        assert!(text.contains("ferry_merge_duration_seconds_count 1\n"));
    }

    #[test]
    fn a_store_refusal_fails_an_upload_without_a_hash_mismatch() {
        let metrics = Metrics::new();
        metrics.upload_failed(Failure::StoreRefused);
        metrics.upload_failed(Failure::HashMismatch);
        let text = metrics.encode();
        assert!(text.contains("ferry_uploads_failed_total 2\n"), "{text}");
        assert!(text.contains("ferry_hash_mismatches_total 1\n"), "{text}");
    }

    #[test]
    fn every_metric_has_a_type_and_help_and_measured_ones_name_their_unit() {
        let text = Metrics::new().encode();
        let names: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .filter_map(|line| line.split(' ').next())
            .collect();
        assert!(names.len() >= 20, "{names:?}");
        for name in &names {
            assert!(name.starts_with("ferry_"), "{name}");
            assert!(!name.ends_with("_total"), "the encoder adds _total: {name}");
            let help = text
                .lines()
                .find_map(|line| line.strip_prefix(&format!("# HELP {name} ")))
                .unwrap_or_default();
            assert!(!help.is_empty(), "{name} has no help");
            for unit in ["bytes", "seconds"] {
                if name.ends_with(&format!("_{unit}")) {
                    assert!(
                        text.contains(&format!("# UNIT {name} {unit}\n")),
                        "{name} ends in a unit it does not declare"
                    );
                }
            }
        }
    }
}

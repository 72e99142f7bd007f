//! What the server counts, for Prometheus: requests, uploads, chunks,
//! merges, downloads, sweeps, the database pool and refused credentials.
//!
//! Each server has its own registry, so that servers sharing a process (as
//! tests do) never see each other's counts. Labels are route patterns,
//! methods, statuses and fixed names, never paths, hashes or owners, so the
//! number of series stays bounded whatever clients send.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The media type of [`Metrics::encode`]'s text: the OpenMetrics text
/// format, which Prometheus scrapes natively.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    credential: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

/// Buckets of request latencies: from 1 ms to about 2.5 minutes.
#[derive(Clone, Debug)]
struct RequestBuckets;

impl MetricConstructor<Histogram> for RequestBuckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(exponential_buckets(0.001, 2.5, 14))
    }
}

/// How a merge that held its lease ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The merged bytes were verified and published.
    Published,
    /// The merged bytes did not hash to the key; the upload failed.
    Mismatch,
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
            MergeOutcome::LeaseLost => "lease_lost",
            MergeOutcome::HandedBack => "handed_back",
            MergeOutcome::Failed => "failed",
        }
    }
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
    /// Objects that no record points at, removed.
    pub leftover_objects: usize,
}

/// The server's metrics; clones share the counts.
#[derive(Clone, Debug)]
pub struct Metrics(Arc<Families>);

#[derive(Debug)]
struct Families {
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram, RequestBuckets>,
    uploads_created: Counter,
    uploads_resumed: Counter,
    uploads_instant: Counter,
    uploads_completed: Counter,
    uploads_failed: Counter,
    chunks_received: Counter,
    received_bytes: Counter,
    digest_mismatches: Counter,
    hash_mismatches: Counter,
    files_repaired: Counter,
    chunks_linked: Counter,
    chunks_read_back: Counter,
    merge_reread_bytes: Counter,
    merges_in_flight: Gauge,
    merges: Family<OutcomeLabel, Counter>,
    merge_seconds: Histogram,
    served_bytes: Counter,
    range_requests: Counter,
    sweeps: Counter,
    swept: Family<KindLabel, Counter>,
    db_connections_in_use: Gauge,
    ready: Gauge,
    leftovers_kept: Gauge,
    auth_refusals: Family<ReasonLabel, Counter>,
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Self {
        let mut f = Families {
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(RequestBuckets),
            uploads_created: Counter::default(),
            uploads_resumed: Counter::default(),
            uploads_instant: Counter::default(),
            uploads_completed: Counter::default(),
            uploads_failed: Counter::default(),
            chunks_received: Counter::default(),
            received_bytes: Counter::default(),
            digest_mismatches: Counter::default(),
            hash_mismatches: Counter::default(),
            files_repaired: Counter::default(),
            chunks_linked: Counter::default(),
            chunks_read_back: Counter::default(),
            merge_reread_bytes: Counter::default(),
            merges_in_flight: Gauge::default(),
            merges: Family::default(),
            merge_seconds: Histogram::new(exponential_buckets(0.05, 2.0, 14)),
            served_bytes: Counter::default(),
            range_requests: Counter::default(),
            sweeps: Counter::default(),
            swept: Family::default(),
            db_connections_in_use: Gauge::default(),
            ready: Gauge::default(),
            leftovers_kept: Gauge::default(),
            auth_refusals: Family::default(),
            registry: Registry::with_prefix("ferry"),
        };
        let r = &mut f.registry;
        r.register(
            "http_requests",
            "HTTP requests answered, by route pattern, method and status",
            f.requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer's head, by route pattern and method",
            f.request_seconds.clone(),
        );
        for (name, help, counter) in [
            (
                "uploads_created",
                "Upload sessions created",
                &f.uploads_created,
            ),
            (
                "uploads_resumed",
                "Creates that found the owner's live session and resumed it",
                &f.uploads_resumed,
            ),
            (
                "uploads_instant",
                "Uploads answered at once because the file was already published (dedup hits)",
                &f.uploads_instant,
            ),
            (
                "uploads_completed",
                "Uploads whose bytes were verified and published",
                &f.uploads_completed,
            ),
            (
                "uploads_failed",
                "Uploads whose bytes did not hash to their sha256",
                &f.uploads_failed,
            ),
            ("chunks_received", "Chunks accepted", &f.chunks_received),
            (
                "received_bytes",
                "Bytes accepted, in chunks and in one-request uploads",
                &f.received_bytes,
            ),
            (
                "digest_mismatches",
                "Chunks refused because they did not match their digest",
                &f.digest_mismatches,
            ),
            (
                "hash_mismatches",
                "Files refused because their bytes did not hash to their sha256",
                &f.hash_mismatches,
            ),
            (
                "files_repaired",
                "Published files whose missing object an upload of their bytes put back",
                &f.files_repaired,
            ),
            (
                "chunks_linked",
                "Chunks taken into their file's running hash, as they arrived or read back after",
                &f.chunks_linked,
            ),
            (
                "chunks_read_back",
                "Chunks read back after they were accepted to take them into their file's running hash",
                &f.chunks_read_back,
            ),
            (
                "merge_reread_bytes",
                "Bytes of chunks a merge read back because they were not in the running hash yet",
                &f.merge_reread_bytes,
            ),
            (
                "served_bytes",
                "Bytes of published files sent to clients",
                &f.served_bytes,
            ),
            (
                "range_requests",
                "Downloads answered with part of a file (206)",
                &f.range_requests,
            ),
            ("sweeps", "Sweeps run", &f.sweeps),
        ] {
            r.register(name, help, counter.clone());
        }
        r.register(
            "merges_in_flight",
            "Merges running on this instance",
            f.merges_in_flight.clone(),
        );
        r.register(
            "merges",
            "Merges that held their lease, by outcome",
            f.merges.clone(),
        );
        r.register(
            "merge_duration_seconds",
            "Time a merge took, from taking its lease to its outcome (buckets from 50 ms to 7 minutes)",
            f.merge_seconds.clone(),
        );
        r.register(
            "swept",
            "What sweeps removed or took up, by kind",
            f.swept.clone(),
        );
        r.register(
            "db_connections_in_use",
            "Connections of this instance's database pool in use",
            f.db_connections_in_use.clone(),
        );
        r.register(
            "ready",
            "Whether this instance's last readiness check passed (1) or not (0)",
            f.ready.clone(),
        );
        r.register(
            "leftovers_kept",
            "Objects no database row needs that the last listing of the store kept, waiting out their quarantine",
            f.leftovers_kept.clone(),
        );
        r.register(
            "auth_refusals",
            "Requests refused for their credentials (token or signed link), by reason",
            f.auth_refusals.clone(),
        );
        Metrics(Arc::new(f))
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
            .request_seconds
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

    /// An upload whose bytes did not hash to its sha256.
    pub fn upload_failed(&self) {
        self.0.uploads_failed.inc();
        self.0.hash_mismatches.inc();
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

    /// A chunk taken into its file's running hash as it arrived.
    pub fn chunk_linked(&self) {
        self.0.chunks_linked.inc();
    }

    /// A chunk read back after it was accepted and taken into its file's
    /// running hash.
    pub fn chunk_read_back(&self) {
        self.0.chunks_linked.inc();
        self.0.chunks_read_back.inc();
    }

    /// `bytes` of chunks a merge read back to hash them.
    pub fn merge_reread(&self, bytes: u64) {
        self.0.merge_reread_bytes.inc_by(bytes);
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
            .merge_seconds
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
}

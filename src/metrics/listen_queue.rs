//! The kernel's count of connections its accept queues could not hold,
//! read from `/proc/net/netstat` at each scrape: on Linux only, and for
//! the whole network namespace (a container's or pod's own, else the
//! host's), since the kernel counts no finer.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;

/// Where the kernel counts its TCP events.
const NETSTAT: &str = "/proc/net/netstat";

/// The exported counters: name (before `_total`), the kernel's field, help.
const COUNTERS: [(&str, &str, &str); 2] = [
    (
        "listen_overflows",
        "ListenOverflows",
        "Connections the kernel could not queue for accepting because an accept queue was full (the listen backlog), in this network namespace",
    ),
    (
        "listen_drops",
        "ListenDrops",
        "Connections the kernel dropped before they could be accepted, overflows included, in this network namespace",
    ),
];

/// Reads the accept-queue counters at each scrape; exports nothing where
/// the kernel does not count them.
#[derive(Debug, Default)]
pub(super) struct ListenQueue;

impl Collector for ListenQueue {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Ok(netstat) = std::fs::read_to_string(NETSTAT) else {
            return Ok(());
        };
        for (name, field, help) in COUNTERS {
            if let Some(value) = tcp_ext(&netstat, field) {
                let counter = ConstCounter::new(value);
                let metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
                counter.encode(metric)?;
            }
        }
        Ok(())
    }
}

/// The value of one `TcpExt` field of `/proc/net/netstat`'s text, whose
/// lines come in pairs: the field names, then their values.
fn tcp_ext(netstat: &str, field: &str) -> Option<u64> {
    let mut lines = netstat.lines();
    while let Some(names) = lines.next() {
        let values = lines.next()?;
        let (Some(names), Some(values)) = (
            names.strip_prefix("TcpExt:"),
            values.strip_prefix("TcpExt:"),
        ) else {
            continue;
        };
        let at = names.split_whitespace().position(|name| name == field)?;
        return values.split_whitespace().nth(at)?.parse().ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NETSTAT_TEXT: &str = "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPHPHits\n\
                                TcpExt: 0 397 401 12\n\
                                IpExt: InNoRoutes InTruncatedPkts\n\
                                IpExt: 0 0\n";

    #[test]
    fn the_listen_counters_are_read_by_their_names() {
        assert_eq!(tcp_ext(NETSTAT_TEXT, "ListenOverflows"), Some(397));
        assert_eq!(tcp_ext(NETSTAT_TEXT, "ListenDrops"), Some(401));
    }

    #[test]
    fn a_field_or_section_the_kernel_does_not_have_reads_as_none() {
        assert_eq!(tcp_ext(NETSTAT_TEXT, "ListenNothing"), None);
        assert_eq!(
            tcp_ext("IpExt: InNoRoutes\nIpExt: 0\n", "ListenDrops"),
            None
        );
        assert_eq!(tcp_ext("TcpExt: ListenDrops\n", "ListenDrops"), None);
        assert_eq!(
            tcp_ext("TcpExt: ListenDrops\nTcpExt: many\n", "ListenDrops"),
            None
        );
    }
}

//! `ferry-load`: many owners uploading at once against one ferryd, as a
//! rush of mini-program users does. Each owner (its own HS256 token)
//! uploads its own file in chunks, a few in flight in index order, then
//! completes it. Prints one line of `name=value` figures: throughput,
//! request p99, upload p50, ferryd's resident memory before, at its peak
//! and a while after, its waits for database connections and the bytes it
//! read back against those it received.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

/// What to run.
#[derive(Parser, Debug)]
struct Args {
    /// ferryd's address, `http://host:port`.
    #[arg(long)]
    server: String,
    /// Owners uploading at once.
    #[arg(long, default_value_t = 50)]
    owners: u64,
    /// Bytes of each owner's file.
    #[arg(long, default_value_t = 4 << 20)]
    file_size: u64,
    /// Bytes of each chunk.
    #[arg(long, default_value_t = 512 << 10)]
    chunk_size: u64,
    /// Chunks each owner has in flight, in index order.
    #[arg(long, default_value_t = 3)]
    in_flight: usize,
    /// The HS256 secret ferryd checks tokens with (`FERRY_JWT_SECRET`).
    #[arg(long, env = "FERRY_JWT_SECRET")]
    jwt_secret: String,
    /// ferryd's process id, to sample its resident memory.
    #[arg(long)]
    pid: Option<u32>,
    /// Seconds to wait after the load before the last memory sample.
    #[arg(long, default_value_t = 60)]
    settle: u64,
    /// Seeds the owners' files, so that runs against one store differ.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// What the owners measured.
#[derive(Default)]
struct Measured {
    latencies: Vec<f64>,
    uploads: Vec<f64>,
}

/// One owner's file: its chunks are made again when sent, never kept.
struct File {
    owner: u64,
    seed: u64,
    size: u64,
    chunk_size: u64,
    sha256: String,
}

impl File {
    fn new(owner: u64, seed: u64, size: u64, chunk_size: u64) -> Self {
        let mut file = File {
            owner,
            seed,
            size,
            chunk_size,
            sha256: String::new(),
        };
        let mut hasher = Sha256::new();
        for index in 0..file.chunk_count() {
            hasher.update(file.chunk(index));
        }
        file.sha256 = hex::encode(hasher.finalize());
        file
    }

    fn chunk_count(&self) -> u64 {
        self.size.div_ceil(self.chunk_size)
    }

    /// Chunk `index`'s bytes, the same each time they are made.
    fn chunk(&self, index: u64) -> Bytes {
        let len = self.chunk_size.min(self.size - index * self.chunk_size) as usize;
        let mut state =
            (self.seed << 48 ^ self.owner << 20 ^ index).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut bytes = Vec::with_capacity(len + 8);
        while bytes.len() < len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            bytes.extend_from_slice(&state.to_le_bytes());
        }
        bytes.truncate(len);
        Bytes::from(bytes)
    }
}

/// The owners' shared view of the server.
struct Load {
    client: Client,
    server: String,
    measured: Mutex<Measured>,
    refused: AtomicU64,
}

impl Load {
    /// Sends a request, sent again while the server asks to wait
    /// (503 or 429 with `Retry-After`); every attempt's time is counted.
    async fn send(&self, request: impl Fn() -> RequestBuilder) -> anyhow::Result<StatusCode> {
        loop {
            let asked = Instant::now();
            let answer = request().send().await?;
            let status = answer.status();
            let retry = answer
                .headers()
                .get("retry-after")
                .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
            let body = answer.bytes().await?;
            self.measured
                .lock()
                .await
                .latencies
                .push(asked.elapsed().as_secs_f64());
            match retry {
                _ if status.is_success() => return Ok(status),
                Some(retry)
                    if status == StatusCode::SERVICE_UNAVAILABLE
                        || status == StatusCode::TOO_MANY_REQUESTS =>
                {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_secs(retry)).await;
                }
                _ => bail!("{status}: {}", String::from_utf8_lossy(&body)),
            }
        }
    }

    /// Uploads `file` as `token`'s owner and completes it.
    async fn upload(&self, file: &File, token: &str, in_flight: usize) -> anyhow::Result<()> {
        let started = Instant::now();
        let url = |path: &str| format!("{}{path}", self.server);
        let create =
            json!({"sha256": file.sha256, "size": file.size, "chunk_size": file.chunk_size});
        self.send(|| {
            self.client
                .post(url("/v1/uploads"))
                .bearer_auth(token)
                .json(&create)
        })
        .await
        .context("create")?;
        futures::stream::iter(0..file.chunk_count())
            .map(|index| async move {
                let body = file.chunk(index);
                let path = format!("/v1/uploads/{}/chunks/{index}", file.sha256);
                self.send(|| {
                    self.client
                        .put(url(&path))
                        .bearer_auth(token)
                        .body(body.clone())
                })
                .await
                .with_context(|| format!("chunk {index}"))
            })
            .buffered(in_flight)
            .try_collect::<Vec<_>>()
            .await?;
        let path = format!("/v1/uploads/{}/complete", file.sha256);
        loop {
            let answer = self
                .send(|| self.client.post(url(&path)).bearer_auth(token))
                .await
                .context("complete")?;
            if answer == StatusCode::OK {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.measured
            .lock()
            .await
            .uploads
            .push(started.elapsed().as_secs_f64());
        Ok(())
    }
}

/// ferryd's resident memory in MiB, from `/proc`.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The highest of ferryd's resident memory until `stop` is set, sampled
/// every 100 ms.
fn sample_peak(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<f64> {
    std::thread::spawn(move || {
        let mut peak = 0.0f64;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(rss_mib(pid));
            std::thread::sleep(Duration::from_millis(100));
        }
        peak
    })
}

/// One series of a metrics text, 0 when absent.
fn series(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.split(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Requests that waited longer than about 100 ms for a database
/// connection (the histogram's bucket at 97.7 ms), and the longest wait's
/// bucket bound in ms.
fn pool_waits(metrics: &str) -> (f64, String) {
    let name = "ferry_db_acquire_duration_seconds";
    let count = series(metrics, &format!("{name}_count"));
    let mut within = 0.0;
    let mut worst = None;
    let buckets = metrics
        .lines()
        .filter(|line| line.starts_with(&format!("{name}_bucket")));
    for line in buckets {
        let Some((labels, value)) = line.split_once("} ") else {
            continue;
        };
        let bound = labels.rsplit("le=\"").next().unwrap_or("");
        let bound: f64 = bound.trim_end_matches('"').parse().unwrap_or(f64::INFINITY);
        let value: f64 = value
            .split(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        if bound <= 0.1 {
            within = value;
        }
        if worst.is_none() && value >= count {
            worst = Some(bound);
        }
    }
    let worst = worst.unwrap_or(f64::INFINITY);
    (count - within, format!("{:.0}", worst * 1000.0))
}

/// An HS256 token for owner `subject`, valid for an hour.
fn token(secret: &[u8], subject: &str) -> String {
    use base64::Engine;
    use hmac::Mac;
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let header = encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = encode(
        json!({"sub": subject, "iat": now, "exp": now + 3600})
            .to_string()
            .as_bytes(),
    );
    let signed = format!("{header}.{claims}");
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(signed.as_bytes());
    format!("{signed}.{}", encode(&mac.finalize().into_bytes()))
}

fn percentile(values: &mut [f64], fraction: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((values.len() as f64 * fraction).ceil() as usize).clamp(1, values.len().max(1));
    values.get(rank - 1).copied().unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let files: Vec<File> = futures::stream::iter(0..args.owners)
        .map(|owner| {
            let (seed, size, chunk) = (args.seed, args.file_size, args.chunk_size);
            tokio::task::spawn_blocking(move || File::new(owner, seed, size, chunk))
        })
        .buffered(4)
        .try_collect()
        .await?;
    let tokens: Vec<String> = (0..args.owners)
        .map(|owner| {
            let secret = args.jwt_secret.as_bytes();
            token(secret, &format!("load-{owner}"))
        })
        .collect();
    let load = Arc::new(Load {
        client: Client::builder()
            .pool_max_idle_per_host(usize::MAX)
            .build()?,
        server: args.server.trim_end_matches('/').to_owned(),
        measured: Mutex::default(),
        refused: AtomicU64::new(0),
    });
    let baseline = args.pid.map_or(0.0, rss_mib);
    let stop = Arc::new(AtomicBool::new(false));
    let peak = args.pid.map(|pid| sample_peak(pid, stop.clone()));

    let started = Instant::now();
    let owners = files.into_iter().zip(tokens).map(|(file, token)| {
        let load = load.clone();
        tokio::spawn(async move { load.upload(&file, &token, args.in_flight).await })
    });
    let mut failed = 0;
    for owner in futures::future::join_all(owners).await {
        if let Err(error) = owner? {
            failed += 1;
            eprintln!("ferry-load: an owner failed: {error:#}");
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let peak = match peak {
        Some(peak) => peak.join().expect("the memory sampler"),
        None => 0.0,
    };

    let metrics = load
        .client
        .get(format!("{}/metrics", load.server))
        .send()
        .await?
        .text()
        .await?;
    let received = series(&metrics, "ferry_received_bytes_total");
    let merge_reread = series(&metrics, "ferry_merge_reread_bytes_total");
    let link_reread = series(&metrics, "ferry_link_reread_bytes_total");
    let (slow_waits, worst_wait) = pool_waits(&metrics);
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let after = args.pid.map_or(0.0, rss_mib);

    let mut measured = load.measured.lock().await;
    let uploaded = (args.owners - failed) as f64 * args.file_size as f64;
    let p99 = percentile(&mut measured.latencies, 0.99);
    let p50 = percentile(&mut measured.uploads, 0.5);
    println!(
        "owners={} failed={failed} seconds={seconds:.1} mib_s={:.1} p99_ms={:.0} upload_p50_s={p50:.2} \
         requests={} refused={} rss_base_mib={baseline:.0} rss_peak_mib={peak:.0} rss_after_mib={after:.0} \
         pool_waits_over_100ms={slow_waits:.0} pool_wait_worst_ms={worst_wait} received_mib={:.0} \
         merge_reread_mib={:.1} link_reread_mib={:.1} reread_pct={:.1}",
        args.owners,
        uploaded / 1_048_576.0 / seconds,
        p99 * 1000.0,
        measured.latencies.len(),
        load.refused.load(Ordering::Relaxed),
        received / 1_048_576.0,
        merge_reread / 1_048_576.0,
        link_reread / 1_048_576.0,
        100.0 * (merge_reread + link_reread) / received.max(1.0),
    );
    Ok(())
}

//! Building the server from its settings: stores, domain, routes, sweeper.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::middleware::Logger;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use chrono::Utc;
use secrecy::ExposeSecret;

use crate::blob::BlobStore;
use crate::config::Settings;
use crate::http;
use crate::meta::MetaStore;
use crate::meta::postgres::PostgresMeta;
use crate::meta::sqlite::SqliteMeta;
use crate::upload::Uploads;

/// One access-log line per request: peer, request line, status, bytes, time.
const ACCESS_LOG: &str = "%a \"%r\" %s %b %Dms";

/// A bound, ready-to-run server.
pub struct Application {
    address: SocketAddr,
    server: Server,
    uploads: Uploads,
    sweeper: tokio::task::JoinHandle<()>,
}

impl Application {
    /// Opens the stores named by the settings, runs the migrations, binds the
    /// listener and takes up any merge a crash cut off.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate().map_err(anyhow::Error::msg)?;
        let meta = open_meta(&settings).await?;
        let blobs = BlobStore::open(&settings.store)
            .with_context(|| format!("opening the object store {}", settings.store))?;
        Self::build_with(settings, meta, blobs).await
    }

    /// Builds the server over stores that are already open.
    pub async fn build_with(
        settings: Settings,
        meta: Arc<dyn MetaStore>,
        blobs: BlobStore,
    ) -> anyhow::Result<Self> {
        let uploads = Uploads::new(meta, blobs, settings.limits(), settings.timings());
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let address = listener.local_addr()?;
        let data = web::Data::new(uploads.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .wrap(actix_web::middleware::NormalizePath::trim())
                .wrap(Logger::new(ACCESS_LOG))
                .configure(http::configure)
                .default_service(web::to(http::not_found))
        })
        .listen(listener)?
        .run();
        let sweeper = tokio::spawn(sweep_forever(uploads.clone(), settings.sweep_interval));
        Ok(Application {
            address,
            server,
            uploads,
            sweeper,
        })
    }

    /// The address the server listens on, with the port it really bound
    /// (useful when asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The upload service behind the routes.
    pub fn uploads(&self) -> &Uploads {
        &self.uploads
    }

    /// Serves until the process is told to stop.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.sweeper.abort();
        result
    }
}

/// Opens PostgreSQL or SQLite according to the database URL, migrated.
pub async fn open_meta(settings: &Settings) -> anyhow::Result<Arc<dyn MetaStore>> {
    let url = settings.database_url.expose_secret();
    if settings.uses_postgres() {
        let meta = PostgresMeta::connect(url, settings.db_max_connections)
            .await
            .context("connecting to PostgreSQL")?;
        Ok(Arc::new(meta))
    } else {
        if let Some(folder) = sqlite_folder(url) {
            std::fs::create_dir_all(&folder)
                .with_context(|| format!("creating {}", folder.display()))?;
        }
        let meta = SqliteMeta::connect(url)
            .await
            .with_context(|| format!("opening SQLite at {url}"))?;
        Ok(Arc::new(meta))
    }
}

fn sqlite_folder(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    std::path::Path::new(path).parent().map(|p| p.to_path_buf())
}

/// How often leftovers of crashes are looked for: listing the store costs more
/// than the regular sweep, and leftovers are rare.
const LEFTOVER_INTERVAL: Duration = Duration::from_secs(3600);

async fn sweep_forever(uploads: Uploads, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    let mut leftovers_due = Instant::now();
    loop {
        ticks.tick().await;
        if let Err(error) = uploads.sweep(Utc::now()).await {
            tracing::error!(%error, "sweep failed; trying again next interval");
        }
        if Instant::now() >= leftovers_due {
            leftovers_due = Instant::now() + LEFTOVER_INTERVAL;
            if let Err(error) = uploads
                .collect_leftovers(Utc::now(), LEFTOVER_INTERVAL)
                .await
            {
                tracing::error!(%error, "collecting leftovers failed");
            }
        }
    }
}

//! Building the server from its settings: stores, domain, routes, sweeper.

mod app_tasks;
mod listeners;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, web};
use anyhow::Context;
use chrono::Utc;
use secrecy::ExposeSecret;

use crate::access::{LinkSigner, OwnerRates, ProofKey, TokenVerifier, load_keys};
use crate::blob::BlobStore;
use crate::config::{DownloadAccess, InstantUploadMode, SecuritySettings, Settings};
use crate::http::{self, BodyTimeout, DownloadGate, Gatekeeper, PerAddress};
use crate::meta::MetaStore;
use crate::meta::postgres::PostgresMeta;
use crate::meta::sqlite::SqliteMeta;
use crate::upload::{AccessPolicy, DownloadLinks, InstantUpload, OwnerLimits, Uploads};
use listeners::{Listening, main_workers, serve, serve_admin};

/// Returns when the process is told to stop: SIGTERM, or SIGINT (Ctrl-C).
async fn stop_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = terminate => {}
        interrupted = tokio::signal::ctrl_c() => {
            if interrupted.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// How long stopping waits for running merges to give their leases back.
const HAND_BACK_BOUND: Duration = Duration::from_secs(5);

/// A bound, ready-to-run server.
pub struct Application {
    address: SocketAddr,
    server: Server,
    admin: Option<(SocketAddr, Server)>,
    uploads: Uploads,
    sweeper: tokio::task::JoinHandle<()>,
    mover: Option<tokio::task::JoinHandle<()>>,
    app_tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// Opens the stores named by the settings, runs the migrations, binds the
    /// listener and takes up any merge a crash cut off.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate().map_err(anyhow::Error::msg)?;
        let meta = open_meta(&settings).await?;
        let blobs = BlobStore::open_with(&settings.store, &settings.bucket.options())
            .with_context(|| format!("opening the object store {}", settings.store))?;
        Self::build_with(settings, meta, blobs).await
    }

    /// Builds the server over stores that are already open.
    pub async fn build_with(
        settings: Settings,
        meta: Arc<dyn MetaStore>,
        blobs: BlobStore,
    ) -> anyhow::Result<Self> {
        let gatekeeper = web::Data::new(gatekeeper(&settings.security)?);
        if !gatekeeper.requires_tokens() {
            tracing::warn!("authentication is off: every caller is the owner `anonymous`");
        }
        let signer = link_signer(&settings.security);
        let download_gate = web::Data::new(
            DownloadGate::new(signer.clone()).redirecting(settings.bucket.redirect_ttl()),
        );
        let mut policy = access_policy(&settings.security, signer);
        policy.pre_create = settings.app.pre_create();
        let uploads = Uploads::new(meta, blobs, settings.limits(), settings.timings(), policy)
            .with_memory_bounds(settings.memory_bounds());
        bound_store(&uploads, &settings, true).await?;
        let listener = listeners::bind(settings.bind, settings.listen_backlog)
            .with_context(|| format!("binding {}", settings.bind))?;
        let address = listener.local_addr()?;
        let admin_listener = settings
            .admin_bind
            .map(|bind| {
                listeners::bind(bind, settings.listen_backlog)
                    .with_context(|| format!("binding {bind}"))
            })
            .transpose()?;
        let operations_here = admin_listener.is_none();
        let data = web::Data::new(uploads.clone());
        let body_timeout = web::Data::new(BodyTimeout(settings.security.body_idle_timeout));
        let cors_origins = settings.security.cors_origins.clone();
        let upload_page = settings.upload_page;
        let security = &settings.security;
        let main = Listening {
            name: "ferryd",
            listener,
            workers: main_workers(security.max_connections),
            max_connections: security.max_connections,
            per_address: PerAddress::new(security.max_connections_per_address),
        };
        let server = serve(main, security, settings.shutdown_grace, {
            let data = data.clone();
            move || {
                App::new()
                    .app_data(data.clone())
                    .app_data(gatekeeper.clone())
                    .app_data(download_gate.clone())
                    .app_data(body_timeout.clone())
                    .wrap(http::cors(&cors_origins))
                    .wrap(from_fn(http::measure))
                    .wrap(from_fn(http::normalize_path))
                    .wrap(from_fn(http::guard_head))
                    .wrap(from_fn(http::log_access))
                    .wrap(from_fn(http::tag_request))
                    .configure(http::configure)
                    .configure(http::configure_liveness)
                    .configure(|cfg| {
                        if operations_here {
                            http::configure_operations(cfg);
                        }
                        if upload_page {
                            http::configure_page(cfg);
                        }
                    })
                    .default_service(web::to(http::not_found))
            }
        })?;
        let admin = match admin_listener {
            Some(listener) => Some(serve_admin(
                listener,
                security,
                settings.shutdown_grace,
                data,
            )?),
            None => None,
        };
        let sweeper = tokio::spawn(sweep_forever(
            uploads.clone(),
            settings.sweep_interval,
            settings.leftover_quarantine.0,
        ));
        let mover = settings.migrate_parts.then(|| {
            let uploads = uploads.clone();
            let pause = settings.sweep_interval;
            tokio::spawn(async move { uploads.move_files_forever(pause).await })
        });
        let app_tasks = app_tasks::spawn(&uploads, &settings);
        Ok(Application {
            address,
            server,
            admin,
            uploads,
            sweeper,
            mover,
            app_tasks,
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

    /// The address `/metrics`, `/healthz` and `/readyz` are served on when
    /// it is not the main one.
    pub fn admin_address(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(address, _)| *address)
    }

    /// The upload service behind the routes.
    pub fn uploads(&self) -> &Uploads {
        &self.uploads
    }

    /// Serves until the process is told to stop (SIGTERM, SIGINT): then
    /// answers not ready, hands running merges back to the other instances
    /// while the HTTP workers whose stores' connections they use still run,
    /// stops accepting, and lets requests in flight finish within the
    /// shutdown grace. The admin address answers until the main one has
    /// stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let admin = self
            .admin
            .map(|(_, admin)| (admin.handle(), tokio::spawn(admin)));
        let server = self.server.handle();
        let uploads = self.uploads.clone();
        let stopper = tokio::spawn(async move {
            stop_signal().await;
            tracing::info!("stopping: handing merges back, then no new connections");
            uploads.hand_back_merges(HAND_BACK_BOUND).await;
            server.stop(true).await;
        });
        let result = self.server.await;
        if let Some((handle, running)) = admin {
            handle.stop(true).await;
            match running.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(%error, "the admin address failed"),
                Err(error) => tracing::warn!(%error, "the admin address stopped abnormally"),
            }
        }
        self.sweeper.abort();
        if let Some(mover) = &self.mover {
            mover.abort();
        }
        self.app_tasks
            .iter()
            .for_each(tokio::task::JoinHandle::abort);
        stopper.abort();
        self.uploads.hand_back_merges(HAND_BACK_BOUND).await;
        result
    }
}

/// The gatekeeper the settings describe: tokens checked with the configured
/// keys, or everyone `anonymous` when none is configured.
fn gatekeeper(security: &SecuritySettings) -> anyhow::Result<Gatekeeper> {
    if !security.requires_tokens() {
        return Ok(Gatekeeper::open());
    }
    let secret = security
        .jwt_secret
        .as_ref()
        .map(|secret| secret.expose_secret().as_bytes());
    let keys = load_keys(
        secret,
        security.jwt_public_key.as_deref(),
        security.jwt_jwks.as_deref(),
    )
    .context("loading the keys tokens are verified with")?;
    let verifier = TokenVerifier::new(
        keys,
        security.jwt_audience.clone(),
        security.jwt_issuer.clone(),
        security.jwt_leeway,
    );
    Ok(Gatekeeper::with_tokens(
        verifier,
        OwnerRates::new(security.owner_rate),
    ))
}

/// The signer of download links, when downloads need them.
fn link_signer(security: &SecuritySettings) -> Option<LinkSigner> {
    let key = security.download_key.as_ref()?;
    (security.downloads == DownloadAccess::Signed)
        .then(|| LinkSigner::new(key.expose_secret().as_bytes(), security.cdn_auth_ttl))
}

/// Links, instant upload and per-owner limits as the settings describe them.
fn access_policy(security: &SecuritySettings, signer: Option<LinkSigner>) -> AccessPolicy {
    let links = match signer {
        Some(signer) => DownloadLinks::Signed {
            signer,
            ttl: security.download_link_ttl,
        },
        None => DownloadLinks::Public,
    };
    let instant = match security.instant_upload() {
        InstantUploadMode::Hash => InstantUpload::Hash,
        InstantUploadMode::Off => InstantUpload::Off,
        InstantUploadMode::Proof => InstantUpload::Proof(proof_key(security)),
    };
    let owner_limits = security.requires_tokens().then_some(OwnerLimits {
        max_sessions: security.owner_max_sessions,
        max_staged_bytes: security.owner_max_staged,
    });
    AccessPolicy {
        links,
        instant,
        owner_limits,
        pre_create: None,
    }
}

/// The proof key: configured, derived from the download key, or, on a
/// single instance with neither, made up at start.
fn proof_key(security: &SecuritySettings) -> ProofKey {
    if let Some(key) = &security.proof_key {
        return ProofKey::new(key.expose_secret().as_bytes());
    }
    if let Some(key) = &security.download_key {
        let derived: Vec<u8> = [
            b"ferry proof of possession\n".as_slice(),
            key.expose_secret().as_bytes(),
        ]
        .concat();
        return ProofKey::new(&derived);
    }
    tracing::warn!(
        "no FERRY_PROOF_KEY: proofs hold on this instance only; set one shared by every instance"
    );
    ProofKey::new(uuid::Uuid::new_v4().as_bytes())
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

/// How often the store is listed for leftovers of crashes, by one instance
/// at a time (the listing is claimed in the database): listing the store
/// costs more than the regular sweep, and leftovers are rare.
const LEFTOVER_INTERVAL: Duration = Duration::from_secs(3600);
/// How long an instance waits after its start before it tries to claim
/// the listing: never at boot, yet soon enough that a fleet restarted more
/// often than hourly still lists its store.
const FIRST_LEFTOVER_LISTING: Duration = Duration::from_secs(600);

async fn sweep_forever(uploads: Uploads, interval: Duration, quarantine: Option<Duration>) {
    let mut ticks = tokio::time::interval(interval);
    let listings_from = Instant::now() + FIRST_LEFTOVER_LISTING;
    loop {
        ticks.tick().await;
        if let Err(error) = uploads.sweep(Utc::now()).await {
            tracing::error!(%error, "sweep failed; trying again next interval");
        }
        if Instant::now() >= listings_from
            && let Err(error) = uploads.sweep_leftovers(LEFTOVER_INTERVAL, quarantine).await
        {
            tracing::error!(%error, "listing the store for leftovers failed");
        }
    }
}

/// Opens the stores the settings name and the upload service over them,
/// checked to belong together: what `ferryd store` commands work on.
pub async fn open_uploads(settings: &Settings) -> anyhow::Result<Uploads> {
    let meta = open_meta(settings).await?;
    let blobs = BlobStore::open_with(&settings.store, &settings.bucket.options())
        .with_context(|| format!("opening the object store {}", settings.store))?;
    let signer = link_signer(&settings.security);
    let policy = access_policy(&settings.security, signer);
    let uploads = Uploads::new(meta, blobs, settings.limits(), settings.timings(), policy);
    Ok(uploads.with_memory_bounds(settings.memory_bounds()))
}

/// How long a start waits for a database or store that cannot be reached
/// while it checks their binding, before it gives up.
const BINDING_PATIENCE: Duration = Duration::from_secs(60);

/// Checks that the object store and the database belong together (see
/// [`Uploads::check_store_binding`]), binding a new pair when `may_bind`;
/// refuses to go on when they do not, saying what to check. A database or
/// store that cannot be reached is asked again for up to a minute, so that
/// a slow dependency at a deploy does not stop every instance.
pub async fn bound_store(
    uploads: &Uploads,
    settings: &Settings,
    may_bind: bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(200);
    loop {
        match uploads.check_store_binding(may_bind).await {
            Ok(_) => return Ok(()),
            Err(error) if error.is_transient() && started.elapsed() < BINDING_PATIENCE => {
                tracing::warn!(%error, "the database or the store cannot be reached; asking again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(error) => {
                return Err(anyhow::anyhow!(
                    "{error} (store {}). Nothing was changed. To fix: {}.",
                    settings.store,
                    error.remedy()
                ));
            }
        }
    }
}

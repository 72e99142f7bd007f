//! The addresses the server listens on, each served by its own workers
//! with its own connection counts: the main one, and the admin one for
//! probes and scrapes when it is set.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::error::DispatchError;
use actix_http::{Extensions, HttpService, KeepAlive};
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::{AppConfig, Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, web};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpStream;

use crate::config::SecuritySettings;
use crate::http::{self, Admitted, ConnectionLimits, PerAddress, Watched};
use crate::upload::Uploads;

/// Most connections the admin address serves at once: probes and scrapes.
const ADMIN_CONNECTIONS: usize = 64;

/// Listens on `address` with room for `backlog` connections waiting to be
/// accepted (the kernel caps it at its `somaxconn`); beyond them, clients
/// are refused or time out.
pub(super) fn bind(address: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// A listener and how many connections it serves.
pub(super) struct Listening {
    /// The name the engine logs it under.
    pub(super) name: &'static str,
    pub(super) listener: TcpListener,
    pub(super) workers: usize,
    pub(super) max_connections: usize,
    pub(super) per_address: PerAddress,
}

/// The worker threads of the main address: one per core, while each still
/// gets two connections of the cap.
pub(super) fn main_workers(max_connections: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |cores| cores.get());
    cores.min(max_connections / 2).max(1)
}

/// Serves `/healthz`, `/readyz` and `/metrics` on `listener`, with one
/// worker and connections of its own, so that probes and scrapes are
/// answered when the main address is full.
pub(super) fn serve_admin(
    listener: TcpListener,
    security: &SecuritySettings,
    shutdown_grace: Duration,
    data: web::Data<Uploads>,
) -> anyhow::Result<(SocketAddr, Server)> {
    let address = listener.local_addr()?;
    let admin = Listening {
        name: "ferryd-admin",
        listener,
        workers: 1,
        max_connections: ADMIN_CONNECTIONS,
        per_address: PerAddress::new(0),
    };
    let server = serve(admin, security, shutdown_grace, move || {
        App::new()
            .app_data(data.clone())
            .wrap(from_fn(http::measure))
            .wrap(from_fn(http::normalize_path))
            .wrap(from_fn(http::guard_head))
            .wrap(from_fn(http::log_access))
            .wrap(from_fn(http::tag_request))
            .configure(http::configure_liveness)
            .configure(http::configure_operations)
            .default_service(web::to(http::not_found))
    })?;
    Ok((address, server))
}

/// Serves the apps `app` builds on a listener, one per worker, each
/// connection held to the security settings' time limits and to the
/// listener's connection counts, and each request's unread body to
/// [`http::close_unread_body`]. On a graceful stop, idle keep-alive
/// connections close at once and busy ones once their request is answered,
/// so that stopping waits for requests in flight and not for clients'
/// connection pools.
pub(super) fn serve<F, T, B>(
    listening: Listening,
    security: &SecuritySettings,
    shutdown_grace: Duration,
    app: F,
) -> std::io::Result<Server>
where
    F: Fn() -> App<T> + Send + Clone + 'static,
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let Listening {
        name,
        listener,
        workers,
        max_connections,
        per_address,
    } = listening;
    let limits = ConnectionLimits {
        head: security.head_timeout,
        body: security.body_idle_timeout * 2,
        send: security.send_timeout,
    };
    let keep_alive = KeepAlive::Timeout(security.keep_alive);
    let head_timeout = security.head_timeout;
    let address = listener.local_addr()?;
    let builder = Server::build();
    let stopping = builder.graceful_shutdown_signal();
    Ok(builder
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(shutdown_grace.as_secs())
        .max_concurrent_connections(connections_per_worker(max_connections, workers))
        .listen(name, listener, move || {
            let app = app()
                .wrap(from_fn(http::close_unread_body))
                .into_factory()
                .map_err(|error| error.error_response());
            let http = HttpService::build()
                .on_connect_ext(
                    |connection: &Watched<Admitted<TcpStream>>, data: &mut Extensions| {
                        data.insert(connection.gate());
                    },
                )
                .keep_alive(keep_alive)
                .client_request_timeout(head_timeout)
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(address)
                .graceful_shutdown_signal({
                    let stopping = stopping.clone();
                    move || {
                        let stopping = stopping.clone();
                        async move { stopping.notified().await }
                    }
                })
                .h1(map_config(app, |_| AppConfig::default()));
            let per_address = per_address.clone();
            fn_service(move |stream: TcpStream| {
                let peer = stream.peer_addr().ok();
                let nodelay = stream.set_nodelay(true);
                if let Err(error) = nodelay {
                    tracing::debug!(%error, "could not turn off Nagle's algorithm");
                }
                let admitted = per_address.admit(stream).ok_or_else(|| {
                    DispatchError::Io(std::io::Error::other("over the per-address limit"))
                });
                std::future::ready(admitted.map(|stream| (Watched::new(stream, limits), peer)))
            })
            .and_then(http)
        })?
        .run())
}

/// Each worker's share of the connection cap. The engine takes a worker
/// back only once two of its connections have closed, so a share of one
/// would close that worker for good.
fn connections_per_worker(max_connections: usize, workers: usize) -> usize {
    (max_connections / workers).max(2)
}

//! API tests: the real server on a free port, each test against three
//! pairings of stores (SQLite with a local-disk store, PostgreSQL with the
//! in-memory store, PostgreSQL with a bucket on a real S3-compatible server).

#[path = "../common/counting_proxy.rs"]
mod counting_proxy;
#[path = "../common/databases.rs"]
mod databases;
#[path = "../common/faulty_proxy.rs"]
mod faulty_proxy;
#[path = "../common/faulty_store.rs"]
mod faulty_store;
mod helpers;
#[path = "../common/listing.rs"]
mod listing;
#[path = "../common/parts_layout.rs"]
mod parts_layout;
#[path = "../common/receiver.rs"]
mod receiver;
#[path = "../common/s3_server.rs"]
mod s3_server;

/// Runs each named `async fn(Backend)` once per pairing of stores.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::helpers::Backend;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_and_local_disk() {
                    super::$name(Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_and_memory() {
                    super::$name(Backend::Postgres).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_and_s3() {
                    super::$name(Backend::PostgresS3).await
                }
            }
        )*
    };
}

mod auth;
mod buffers;
mod chunks;
mod complete;
mod direct;
mod downloads;
mod hash_window;
mod instances;
mod layout;
mod merges;
mod metrics;
mod move_parts;
mod owned_files;
mod ownership;
mod page;
mod pool;
mod pre_create;
mod probes;
mod proof;
mod queues;
mod races;
mod redirects;
mod s3;
mod s3_compose;
mod sessions;
mod signed_links;
mod store_binding;
mod sweep_races;
mod theft;
mod transport;
mod tus;
mod tus_ietf;
mod webhooks;

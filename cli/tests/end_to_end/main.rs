//! End-to-end tests of the `ferry` CLI against the real `ferryd`, each with
//! its own server, database and object folder.

mod commands;
mod download;
mod helpers;
mod hostile;
mod lost_chunks;
mod proxy;
mod security;
mod stub;
mod theft;
mod upload;
mod webhooks;

//! ferry: resumable, content-addressed file transfer.
//!
//! Data flows one way: [`http`] → [`upload`] (the domain) → [`meta`] and
//! [`blob`] (the stores), which share the names in [`ids`] and the
//! [`running_hash`] kept beside each chunk. The wire types
//! shared with clients are the `ferry_proto` crate.
#![warn(missing_docs, unreachable_pub)]

pub mod access;
pub mod blob;
pub mod commands;
pub mod config;
pub mod error;
pub mod http;
pub mod ids;
pub mod meta;
pub mod metrics;
pub mod probe;
pub mod range;
pub mod running_hash;
pub mod startup;
pub mod telemetry;
pub mod upload;
pub mod webhooks;

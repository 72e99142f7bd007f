//! ferry: resumable, content-addressed file transfer.
//!
//! Data flows one way: [`http`] → [`upload`] (the domain) → [`meta`] and
//! [`blob`] (the stores). [`api`] holds the wire types shared with the CLI.
#![warn(missing_docs, unreachable_pub)]

pub mod api;
pub mod blob;
pub mod cli;
pub mod config;
pub mod error;
pub mod http;
pub mod meta;
pub mod range;
pub mod startup;
pub mod telemetry;
pub mod units;
pub mod upload;

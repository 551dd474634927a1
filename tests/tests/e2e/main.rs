//! The end-to-end tests against moto, one test binary (linking the SDK once): one module per
//! flow. The template and policy proofs that need no moto are in proofs/.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod approval;
mod attacks;
mod audit;
mod bucket_settings;
mod catalog;
mod cli;
mod convergence;
mod digest;
mod discovery;
mod discovery_pages;
mod flood;
mod forged;
mod forwarding;
mod gate;
mod heartbeat;
mod iam;
mod lambdas;
mod organisation;
mod reads;
mod stale;
mod sweep;
mod timeouts;

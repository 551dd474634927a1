//! The end-to-end tests against moto, one test binary (linking the SDK once): one module per
//! flow. The template and policy proofs that need no moto are in proofs/.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

// libtest starts the tests in the order of their names, four at a time (`make test`). The tampering
// storm is by far the longest (about five minutes, most of it the one notifier waiting out the SDK's
// backoff after faults), so its module's name starts it first and the others run beside it.
#[path = "convergence.rs"]
mod a_convergence;
mod approval;
mod attacks;
mod audit;
mod bucket_settings;
mod catalog;
mod cli;
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

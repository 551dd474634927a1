//! # breakglass-core
//!
//! What the Lambdas and the CLI do, without the AWS SDK: read incoming events leniently
//! ([`event`]), enforce ([`enforce::Enforcer`]: level-triggered, never opens) and render
//! notifications ([`notify`]). AWS is reached only through the small traits in [`ports`], which
//! `breakglass-aws` implements with the SDK and tests implement against moto.

pub mod enforce;
pub mod event;
pub mod handler;
pub mod notify;
pub mod operate;
pub mod ports;

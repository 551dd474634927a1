//! Keeping the buckets closed: the enforcer ([`enforce`]: level-triggered, never opens; [`pass`]:
//! what an event asks of it, the inline sweep), the sentinel over what breakglass depends on
//! ([`sentinel`], [`watch`]), the fanned-out sweep ([`sweep`]), the discovery of new buckets
//! ([`discovery`]), the heartbeat that proves the watch alive end to end ([`heartbeat`]), and work
//! over many buckets bounded per account and Region ([`places`]).

pub mod discovery;
pub mod enforce;
pub mod heartbeat;
pub mod pass;
pub mod places;
pub mod sentinel;
pub mod sweep;
pub mod watch;

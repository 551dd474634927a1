//! Keeping the buckets closed: the enforcer ([`enforce`]: level-triggered, never opens; [`pass`]:
//! what an event asks of it, the inline sweep), the sentinel over what breakglass depends on
//! ([`sentinel`], [`watch`]), the fanned-out sweep ([`sweep`]), the discovery of new buckets
//! ([`discovery`]), the heartbeat that proves the watch alive end to end ([`heartbeat`]), and work
//! over many buckets, a few at once in each account ([`per_account`]).

pub mod discovery;
pub mod enforce;
pub mod heartbeat;
pub mod pass;
pub mod per_account;
pub mod sentinel;
pub mod sweep;
pub mod watch;

//! How long the lists in a bus event may grow: an event must stay under EventBridge's 256 KB.

/// Callers a digest or report lists by name (most attempts first); the rest are counted, and each
/// call or read has its record in the trail. Unbounded, a flood from many principals would pass
/// EventBridge's 256 KB per event, and the digest would fail on every run until it is past its
/// lookback. A listed caller of refused reads takes up to about 5.5 KB (five keys of 1 KB).
pub const MOST_CALLERS: usize = 20;

/// Buckets a remediation digest lists by name (the first reverted; `count` counts all, each has its
/// own event and record): about 100 bytes each in the event, a line each in the mail.
pub const MOST_BUCKETS: usize = 500;

/// Causes a remediation digest lists (the commonest; each bucket's own event has its cause).
pub const MOST_CAUSES: usize = 20;

/// Session names and source identities a report lists per reader (the first seen).
pub const MOST_SESSIONS: usize = 50;

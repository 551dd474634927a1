//! A malformed event is answered, not failed: a retry would fail the same way.

use serde_json::{json, Value};

use crate::inbound::event;

/// The event, or the answer for a malformed one: logged as an error and answered, not failed, because
/// a retry would fail the same way.
pub(super) fn parse_or_ignore(raw: &Value) -> Result<event::Incoming, Value> {
    event::parse(raw).map_err(|e| {
        tracing::error!(error = %e, "malformed event; not retried");
        json!({ "ignored": e.to_string() })
    })
}

//! The recorder: the config, the audit trail (signed with the records' HMAC key) and the bus built
//! once, then every event to [`breakglass_core::recorder::handle`]: SQS batches of CloudTrail data
//! events (object reads on the protected buckets) become audit records, the 5-minute schedule mails
//! the digest of refused reads. Settings: `BREAKGLASS_CONFIG_S3` (organisation mode) or
//! `BREAKGLASS_CONFIG` or `BREAKGLASS_CONFIG_FILE`, `BREAKGLASS_EVENT_BUS`,
//! `BREAKGLASS_AUDIT_BUCKET`, `BREAKGLASS_RECORD_KEY`. Without an audit trail it does not start.

use breakglass_core::audit::Trail;
use breakglass_core::runtime::{PerConfig, SetupError};
use serde_json::Value;
use time::OffsetDateTime;

use super::{audit_trail, trail_or_error, Base, BoxError};
use crate::{EventBridgeBus, S3AuditLog};

#[derive(Debug)]
pub struct RecorderFunction {
    base: Base,
    bus: EventBridgeBus,
    trails: PerConfig<Result<Trail<S3AuditLog>, SetupError>>,
}

impl RecorderFunction {
    pub async fn start() -> Result<RecorderFunction, BoxError> {
        let base = Base::start().await?;
        base.settings.audit(&base.source.current().await.config)?;
        let bus = EventBridgeBus::new(base.clients.eventbridge.clone(), base.settings.event_bus()?);
        Ok(RecorderFunction { base, bus, trails: PerConfig::default() })
    }

    pub async fn handle(&self, raw: &Value, now: OffsetDateTime) -> Result<Value, BoxError> {
        let loaded = self.base.source.current().await;
        let trail = self.trails.get(&loaded, |l| audit_trail(&self.base.clients, &self.base.settings, l));
        let trail = trail_or_error(&trail)?;
        let timing = self.base.settings.timing;
        Ok(breakglass_core::recorder::handle(&loaded.config, trail, &trail.log, &self.bus, raw, now, timing)
            .await?)
    }
}

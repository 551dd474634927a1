//! The recorder: the config, the audit trail (signed with the records' HMAC key) and the bus built
//! once, then every event to [`breakglass_core::runtime::recorder_event`]: SQS batches of CloudTrail data
//! events (object reads on the protected buckets) and refused guarded calls become audit records,
//! the 5-minute schedule mails the digests of refused reads and refused calls. Settings: `BREAKGLASS_CONFIG_S3` (organisation mode) or
//! `BREAKGLASS_CONFIG` or `BREAKGLASS_CONFIG_FILE`, `BREAKGLASS_EVENT_BUS`,
//! `BREAKGLASS_AUDIT_BUCKET`, `BREAKGLASS_RECORD_KEY`, `BREAKGLASS_KEY_ARN` (breakglass's key, whose
//! refused calls it records). Without an audit trail it does not start.

use breakglass_core::runtime::Settings;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use time::OffsetDateTime;

use super::{emit, trail_or_error, BoxError, Function, Trailed};
use crate::EventBridgeBus;

#[derive(Debug)]
pub struct RecorderFunction {
    trailed: Trailed,
    bus: EventBridgeBus,
}

impl Function for RecorderFunction {
    const NAME: &'static str = "recorder";
    async fn start(settings: Settings) -> Result<RecorderFunction, BoxError> {
        let trailed = Trailed::start(settings).await?;
        let (clients, settings) = (&trailed.base.clients, &trailed.base.settings);
        let bus = EventBridgeBus::new(clients.eventbridge.clone(), settings.event_bus()?);
        Ok(RecorderFunction { trailed, bus })
    }
    async fn invoke(&self, event: LambdaEvent<Value>) -> Result<Value, BoxError> {
        let answer = self.handle(&event.payload, OffsetDateTime::now_utc()).await?;
        emit(&breakglass_core::runtime::measure::recorder(Self::NAME, &answer));
        Ok(answer)
    }
}

impl RecorderFunction {
    pub async fn handle(&self, raw: &Value, now: OffsetDateTime) -> Result<Value, BoxError> {
        let (loaded, trail) = self.trailed.in_force().await;
        let trail = trail_or_error(&trail)?;
        let timing = self.trailed.base.settings.timing;
        let scope = self.trailed.base.settings.scope();
        Ok(breakglass_core::runtime::recorder_event(
            &loaded.config,
            &scope,
            trail,
            &trail.log,
            &self.bus,
            raw,
            now,
            timing,
        )
        .await?)
    }
}

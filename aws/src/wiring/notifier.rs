//! The notifier: the config, the SNS publishers and the audit trail built once, then every event to
//! [`notify_event_in`] with the config in force (its SHA-256 in every audit record). Settings:
//! `BREAKGLASS_CONFIG_S3` (organisation mode) or `BREAKGLASS_CONFIG` or `BREAKGLASS_CONFIG_FILE`,
//! `BREAKGLASS_TOPIC_ARN`, `BREAKGLASS_RECORD_KEY` (the KMS HMAC key that signs every record; or
//! `[audit] mac_key`), optionally `BREAKGLASS_ALARM_TOPIC_ARN` (the second channel for attacks on
//! the first), `BREAKGLASS_KEY_ARN` (breakglass's key, watched) and `BREAKGLASS_AUDIT_BUCKET` (wins
//! over the config's `[audit] bucket`). Without an audit bucket the notifier does not start: an
//! unrecorded break-glass is what the trail exists to prevent.

use breakglass_core::notify::Scope;
use breakglass_core::runtime::Settings;
use breakglass_core::runtime::{notify_event_in, Paced};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use time::OffsetDateTime;

use super::{trail_or_error, BoxError, Function, Trailed};
use crate::SnsPublisher;

#[derive(Debug)]
pub struct NotifierFunction {
    trailed: Trailed,
    scope: Scope,
    publisher: Paced<SnsPublisher>,
    alarm: Option<Paced<SnsPublisher>>,
}

impl Function for NotifierFunction {
    const NAME: &'static str = "notifier";
    async fn start(settings: Settings) -> Result<NotifierFunction, BoxError> {
        let trailed = Trailed::start(settings).await?;
        let base = &trailed.base;
        let scope = base.settings.scope();
        // Mail below SNS's email limit (one notifier runs at a time: template.yaml's reserved concurrency).
        let sns = &base.clients.sns;
        let publisher = Paced::new(SnsPublisher::new(sns.clone(), base.settings.topic_arn()?));
        let alarm = base.settings.alarm_topic().map(|t| Paced::new(SnsPublisher::new(sns.clone(), t)));
        Ok(NotifierFunction { trailed, scope, publisher, alarm })
    }
    async fn invoke(&self, event: LambdaEvent<Value>) -> Result<Value, BoxError> {
        self.handle(&event.payload, OffsetDateTime::now_utc()).await
    }
}

impl NotifierFunction {
    pub async fn handle(&self, raw: &Value, now: OffsetDateTime) -> Result<Value, BoxError> {
        let (loaded, trail) = self.trailed.in_force().await;
        let trail = trail_or_error(&trail)?;
        let (publisher, alarm) = (&self.publisher, self.alarm.as_ref());
        Ok(notify_event_in(&loaded.config, &self.scope, publisher, alarm, Some(trail), raw, now).await?)
    }
}

//! The notifier: the config, the SNS publishers and the audit trail built once, then every event to
//! [`notify_event_in`] with the config in force (its SHA-256 in every audit record). Settings:
//! `BREAKGLASS_CONFIG_S3` (organisation mode) or `BREAKGLASS_CONFIG` or `BREAKGLASS_CONFIG_FILE`,
//! `BREAKGLASS_TOPIC_ARN`, `BREAKGLASS_RECORD_KEY` (the KMS HMAC key that signs every record; or
//! `[audit] mac_key`), optionally `BREAKGLASS_ALARM_TOPIC_ARN` (the second channel for attacks on
//! the first), `BREAKGLASS_KEY_ARN` (breakglass's key, watched) and `BREAKGLASS_AUDIT_BUCKET` (wins
//! over the config's `[audit] bucket`). Without an audit bucket the notifier does not start: an
//! unrecorded break-glass is what the trail exists to prevent.

use breakglass_core::audit::Trail;
use breakglass_core::notify::Scope;
use breakglass_core::runtime::{notify_event_in, Paced, PerConfig, SetupError};
use serde_json::Value;
use time::OffsetDateTime;

use super::{audit_trail, trail_or_error, Base, BoxError};
use crate::{S3AuditLog, SnsPublisher};

#[derive(Debug)]
pub struct NotifierFunction {
    base: Base,
    scope: Scope,
    publisher: Paced<SnsPublisher>,
    alarm: Option<Paced<SnsPublisher>>,
    trails: PerConfig<Result<Trail<S3AuditLog>, SetupError>>,
}

impl NotifierFunction {
    pub async fn start() -> Result<NotifierFunction, BoxError> {
        let base = Base::start().await?;
        // Checked at cold start: without an audit trail the notifier does not start.
        base.settings.audit(&base.source.current().await.config)?;
        let scope = base.settings.scope();
        // Mail below SNS's email limit (one notifier runs at a time: template.yaml's reserved concurrency).
        let sns = &base.clients.sns;
        let publisher = Paced::new(SnsPublisher::new(sns.clone(), base.settings.topic_arn()?));
        let alarm = base.settings.alarm_topic().map(|t| Paced::new(SnsPublisher::new(sns.clone(), t)));
        Ok(NotifierFunction { base, scope, publisher, alarm, trails: PerConfig::default() })
    }

    pub async fn handle(&self, raw: &Value, now: OffsetDateTime) -> Result<Value, BoxError> {
        let loaded = self.base.source.current().await;
        // Every record signed with the records' HMAC key, so that `history` can tell it from a
        // forgery, and naming the config it was decided under; built once per config, not per event.
        let trail = self.trails.get(&loaded, |l| audit_trail(&self.base.clients, &self.base.settings, l));
        let trail = trail_or_error(&trail)?;
        let (publisher, alarm) = (&self.publisher, self.alarm.as_ref());
        Ok(notify_event_in(&loaded.config, &self.scope, publisher, alarm, Some(trail), raw, now).await?)
    }
}

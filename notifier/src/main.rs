//! The notifier Lambda: builds the config, the SNS clients and the audit trail once, then hands
//! every event to `breakglass_core::handler::notify_event`, with the config in force (its SHA-256 in
//! every audit record). Environment (set by template.yaml): `BREAKGLASS_CONFIG_S3` (organisation
//! mode) or `BREAKGLASS_CONFIG` or `BREAKGLASS_CONFIG_FILE`, `BREAKGLASS_TOPIC_ARN`, `BREAKGLASS_RECORD_KEY`
//! (the KMS HMAC key that signs every record; or `[audit] mac_key`), optionally
//! `BREAKGLASS_ALARM_TOPIC_ARN` (the second channel for attacks on the first), `BREAKGLASS_KEY_ARN`
//! (breakglass's key, watched) and `BREAKGLASS_AUDIT_BUCKET` (wins over the config's `[audit]
//! bucket`). Without an audit bucket the notifier does not start: an unrecorded break-glass is what
//! the trail exists to prevent.

use breakglass_aws::{audit_trail, Clients, ConfigSource, SnsPublisher};
use breakglass_core::handler::{
    audit_from_env, env, notify_event_in, scope_from_env, LoadedConfig, PerConfig,
};
use breakglass_core::pace::Paced;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().with_ansi(false).without_time().with_target(false).init();
    let clients = Clients::load(None).await;
    // One readable line (the error itself), not only the Debug form Rust prints when main fails.
    let source = ConfigSource::from_env(&clients)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start: no config"))?;
    // Checked at cold start: without an audit trail the notifier does not start.
    audit_from_env(&source.current().await.config)?;
    let scope = scope_from_env();
    // Mail below SNS's email limit (one notifier runs at a time: template.yaml's reserved concurrency).
    let publisher = Paced::new(SnsPublisher::new(clients.sns.clone(), env("BREAKGLASS_TOPIC_ARN")?));
    let alarm = std::env::var("BREAKGLASS_ALARM_TOPIC_ARN")
        .ok()
        .filter(|t| !t.is_empty())
        .map(|t| Paced::new(SnsPublisher::new(clients.sns.clone(), t)));
    // Every record signed with the records' HMAC key, so that `history` can tell it from a forgery,
    // and naming the config it was decided under; built once per config, not per event.
    let wire = |loaded: &LoadedConfig| audit_trail(&clients, loaded);
    let trails = PerConfig::default();
    let (source, trails, wire, scope, publisher, alarm) =
        (&source, &trails, &wire, &scope, &publisher, alarm.as_ref());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = time::OffsetDateTime::now_utc();
        let loaded = source.current().await;
        let trail = trails.get(&loaded, wire);
        let trail = trail.as_ref().as_ref().map_err(|e| Error::from(e.to_string()))?;
        notify_event_in(&loaded.config, scope, publisher, alarm, Some(trail), &event.payload, now)
            .await
            .map_err(Error::from)
    }))
    .await
}

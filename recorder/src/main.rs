//! The recorder Lambda: builds the config, the audit trail (signed with the records' HMAC key) and
//! the bus once, then hands every event to `breakglass_core::trail::recorder::handle`: SQS batches of
//! CloudTrail data events (object reads on the protected buckets) become audit records, the
//! 5-minute schedule mails the digest of refused reads. Environment (set by template.yaml):
//! `BREAKGLASS_CONFIG_S3` (organisation mode) or `BREAKGLASS_CONFIG` or `BREAKGLASS_CONFIG_FILE`,
//! `BREAKGLASS_EVENT_BUS`, `BREAKGLASS_AUDIT_BUCKET`, `BREAKGLASS_RECORD_KEY`. Without an audit trail
//! it does not start.

use breakglass_aws::{audit_trail, Clients, ConfigSource, EventBridgeBus};
use breakglass_core::handler::{audit_from_env, env, LoadedConfig, PerConfig};
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
    audit_from_env(&source.current().await.config)?;
    let bus = EventBridgeBus::new(clients.eventbridge.clone(), env("BREAKGLASS_EVENT_BUS")?);
    let wire = |loaded: &LoadedConfig| audit_trail(&clients, loaded);
    let trails = PerConfig::default();
    let timing = breakglass_core::trail::recorder::Timing::from_env();
    let (source, trails, wire, bus) = (&source, &trails, &wire, &bus);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = time::OffsetDateTime::now_utc();
        let loaded = source.current().await;
        let trail = trails.get(&loaded, wire);
        let trail = trail.as_ref().as_ref().map_err(|e| Error::from(e.to_string()))?;
        breakglass_core::trail::recorder::handle(
            &loaded.config,
            trail,
            &trail.log,
            bus,
            &event.payload,
            now,
            timing,
        )
        .await
        .map_err(Error::from)
    }))
    .await
}

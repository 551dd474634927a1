//! The enforcer Lambda: builds the AWS clients once and, per config in force, the routing to the
//! buckets; then hands every event to `breakglass_core::handler::enforce_and_guard_event`: the bucket
//! policies (enforcer) and the paths around them (sentinel: bucket settings, investigator trust,
//! subscriptions). Environment (set by template.yaml): `BREAKGLASS_CONFIG_S3` (organisation mode)
//! or `BREAKGLASS_CONFIG` or `BREAKGLASS_CONFIG_FILE`, `BREAKGLASS_EVENT_BUS`, `BREAKGLASS_DRY_RUN`,
//! `BREAKGLASS_ALARM_TOPIC_ARN`, and `BREAKGLASS_TOPIC_ARN` with `BREAKGLASS_SUBSCRIPTIONS` (the
//! subscriptions the notification topic must keep); `BREAKGLASS_AUDIT_BUCKET` and
//! `BREAKGLASS_RECORD_KEY` for the two-person rule's approvals in the audit trail.

use breakglass_aws::{Accounts, AwsControlPlane, Clients, ConfigSource, EventBridgeBus, S3AuditLog, S3Store};
use breakglass_core::approval::TrailRecords;
use breakglass_core::enforce::Enforcer;
use breakglass_core::handler::{
    audit_from_env, enforce_and_guard_event, env, expected_from_env, LoadedConfig, PerConfig,
};
use breakglass_core::sentinel::Sentinel;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

struct Wired {
    enforcer: Enforcer<S3Store, EventBridgeBus, Option<TrailRecords<S3AuditLog>>>,
    control: AwsControlPlane,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().with_ansi(false).without_time().with_target(false).init();
    let clients = Clients::load(None).await;
    // One readable line (the error itself), not only the Debug form Rust prints when main fails.
    let source = ConfigSource::from_env(&clients)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start: no config"))?;
    let expected = expected_from_env()?;
    let bus = env("BREAKGLASS_EVENT_BUS")?;
    let alarm = std::env::var("BREAKGLASS_ALARM_TOPIC_ARN").ok();
    let dry_run = std::env::var("BREAKGLASS_DRY_RUN").is_ok_and(|v| v == "true");
    let wire = |loaded: &LoadedConfig| {
        let config = loaded.config.clone();
        // Organisation mode: each logging account through its member role, as session
        // `breakglass-enforcer`; single-account mode: the function's own credentials.
        let accounts = Accounts::for_config(&clients, &config, "breakglass-enforcer");
        let control = AwsControlPlane::new(&clients, alarm.clone()).with_accounts(accounts.clone());
        // The two-person rule's approvals, read from the audit trail (records signed by the
        // notifier are checked); without a trail no OpenAccess of such a bucket stands.
        let records = audit_from_env(&config).ok().map(|audit| TrailRecords {
            reader: S3AuditLog::for_config(&clients, &audit),
            prefix: audit.prefix.clone(),
            organisation: config.organisation.is_some(),
        });
        let enforcer = Enforcer {
            records,
            store: S3Store::routed(&clients, accounts, &config),
            config,
            bus: EventBridgeBus::new(clients.eventbridge.clone(), bus.clone()),
            dry_run,
        };
        Wired { enforcer, control }
    };
    let wired = PerConfig::default();
    let (source, wired, wire, expected) = (&source, &wired, &wire, &expected);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = time::OffsetDateTime::now_utc();
        let loaded = source.current().await;
        let w = wired.get(&loaded, wire);
        let sentinel = Sentinel {
            config: &w.enforcer.config,
            store: &w.enforcer.store,
            bus: &w.enforcer.bus,
            control: &w.control,
            expected,
            dry_run,
        };
        enforce_and_guard_event(&w.enforcer, &sentinel, &event.payload, now).await.map_err(Error::from)
    }))
    .await
}

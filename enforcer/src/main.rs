//! The enforcer Lambda: builds the AWS clients once and, per config in force, the routing to the
//! buckets; then hands every event to `breakglass_core::handler::enforce_and_guard_event`: the bucket
//! policies (enforcer) and the paths around them (sentinel: bucket settings, investigator trust,
//! subscriptions). Environment (set by template.yaml): `BREAKGLASS_CONFIG_S3` (organisation mode)
//! or `BREAKGLASS_CONFIG` or `BREAKGLASS_CONFIG_FILE`, `BREAKGLASS_EVENT_BUS`, `BREAKGLASS_DRY_RUN`,
//! `BREAKGLASS_ALARM_TOPIC_ARN`, and `BREAKGLASS_TOPIC_ARN` with `BREAKGLASS_SUBSCRIPTIONS` (the
//! subscriptions the notification topic must keep); `BREAKGLASS_AUDIT_BUCKET` and
//! `BREAKGLASS_RECORD_KEY` for the two-person rule's approvals in the audit trail (and the sweep's
//! shard records); `BREAKGLASS_SWEEP_QUEUE` (a queue URL) fans the scheduled sweep out by shard.

use breakglass_aws::{
    Accounts, AwsControlPlane, Clients, ConfigSource, EventBridgeBus, S3AuditLog, S3Directory, S3Registry,
    S3Store, SqsSweepQueue,
};
use breakglass_core::access::approval::TrailRecords;
use breakglass_core::guard::enforce::Enforcer;
use breakglass_core::guard::sentinel::Sentinel;
use breakglass_core::handler::{
    audit_from_env, enforcer_event, env, expected_from_env, Fanout, LoadedConfig, PerConfig,
};
use breakglass_core::trail::audit::Trail;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

struct Wired {
    enforcer: Enforcer<S3Store, EventBridgeBus, Option<TrailRecords<S3AuditLog>>>,
    control: AwsControlPlane,
    /// The sweep's shard records; `None` when there is no queue (or no trail): the sweep runs inline.
    shards: Option<Trail<S3AuditLog>>,
    /// Discovery's view of the accounts (organisation mode with `[discovery]`).
    directory: Option<S3Directory>,
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
    let queue = std::env::var("BREAKGLASS_SWEEP_QUEUE")
        .ok()
        .filter(|q| !q.is_empty())
        .map(|url| SqsSweepQueue::new(clients.sqs.clone(), url));
    // AWS deployments keep the default; the end-to-end tests do not wait five minutes.
    let close_delay = std::env::var("BREAKGLASS_SWEEP_CLOSE_DELAY_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(breakglass_core::guard::sweep::CLOSE_DELAY_SECONDS);
    // A bucket discovered from a call is checked once every function has read the grown registry:
    // one and a half refresh intervals, plus a second.
    let refresh = u32::try_from(source.refresh().as_secs()).unwrap_or(60);
    let adopt_delay = refresh.saturating_mul(3) / 2 + 1;
    let wire = |loaded: &LoadedConfig| {
        let config = loaded.config.clone();
        // Organisation mode: each logging account through its member role, as session
        // `breakglass-enforcer`; single-account mode: the function's own credentials.
        let accounts = Accounts::for_config(&clients, &config, "breakglass-enforcer");
        let directory = config.discovery.as_ref().map(|_| S3Directory::new(&clients, accounts.clone()));
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
        // Unsigned: the enforcer does not hold the records' signing key (only the notifier and the
        // recorder sign); the audit bucket's policy lets the enforcer alone write under `_sweeps/`.
        let shards = match (&queue, audit_from_env(&loaded.config)) {
            (Some(_), Ok(audit)) => Some(Trail {
                log: S3AuditLog::new(clients.s3.clone(), &audit.bucket),
                config: audit,
                config_sha256: Some(loaded.sha256.clone()),
            }),
            (Some(_), Err(e)) => {
                // Still safe: every bucket is swept, in this invocation.
                tracing::error!(error = %e, "sweep queue set but no audit trail for shard records; sweeping inline");
                None
            }
            (None, _) => None,
        };
        Wired { enforcer, control, shards, directory }
    };
    let wired = PerConfig::default();
    // The registry of discovered buckets, beside the config object (organisation mode).
    let registry = breakglass_core::handler::config_location_from_env()?
        .map(|(bucket, key)| S3Registry::new(clients.s3.clone(), &bucket, &S3Registry::key_beside(&key)));
    let (source, wired, wire, expected, queue, registry) =
        (&source, &wired, &wire, &expected, &queue, &registry);
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
        let fanout = match (queue, &w.shards) {
            (Some(queue), Some(trail)) => Some(Fanout {
                queue,
                trail,
                close_delay,
                discovery: w.directory.as_ref().zip(registry.as_ref()),
                adopt_delay,
            }),
            _ => None,
        };
        enforcer_event(&w.enforcer, &sentinel, fanout.as_ref(), &event.payload, now)
            .await
            .map_err(Error::from)
    }))
    .await
}

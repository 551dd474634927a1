//! The enforcer: the AWS clients built once and, per config in force, the routing to the buckets;
//! then every event to [`enforcer_event`]: the bucket policies (enforcer) and the paths around them
//! (sentinel: bucket settings, investigator trust, subscriptions). Settings: `BREAKGLASS_CONFIG_S3`
//! (organisation mode) or `BREAKGLASS_CONFIG` or `BREAKGLASS_CONFIG_FILE`, `BREAKGLASS_EVENT_BUS`,
//! `BREAKGLASS_DRY_RUN`, `BREAKGLASS_ALARM_TOPIC_ARN`, and `BREAKGLASS_TOPIC_ARN` with
//! `BREAKGLASS_SUBSCRIPTIONS` (the subscriptions the notification topic must keep);
//! `BREAKGLASS_AUDIT_BUCKET` and `BREAKGLASS_RECORD_KEY` for the two-person rule's approvals in the
//! audit trail (and the sweep's shard records); `BREAKGLASS_SWEEP_QUEUE` (a queue URL) fans the
//! scheduled sweep out by shard; `BREAKGLASS_HEARTBEAT_PERIOD_SECONDS` turns the heartbeat on.

use std::sync::Arc;

use breakglass_config::{AuditConfig, Config};
use breakglass_core::access::approval::TrailRecords;
use breakglass_core::guard::enforce::Enforcer;
use breakglass_core::guard::sentinel::Sentinel;
use breakglass_core::guard::watch::Expected;
use breakglass_core::runtime::seal;
use breakglass_core::runtime::{
    enforcer_event, measure, EnforcerPorts, Fanout, Guard, LoadedConfig, PerConfig, Pulse, Settings,
};
use breakglass_core::trail::audit::Trail;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use time::OffsetDateTime;

use super::{emit, Base, BoxError, Function};
use crate::{
    Accounts, AwsControlPlane, Clients, EventBridgeBus, S3AuditLog, S3Directory, S3Registry, S3Store,
    SqsSweepQueue,
};

/// The enforcer's ports in AWS.
#[derive(Debug)]
pub struct Aws;

impl EnforcerPorts for Aws {
    type Store = S3Store;
    type Bus = EventBridgeBus;
    type Control = AwsControlPlane;
    type Records = Option<TrailRecords<S3AuditLog>>;
    type Queue = SqsSweepQueue;
    type Log = S3AuditLog;
    type Directory = S3Directory;
    type Registry = S3Registry;
}

/// The enforcer and the sentinel's control plane, as the Lambda and `breakglass enforce` build them.
#[derive(Debug)]
pub struct GuardPorts {
    pub enforcer: Enforcer<S3Store, EventBridgeBus, Option<TrailRecords<S3AuditLog>>>,
    pub control: AwsControlPlane,
}

/// The enforcer of `config` acting through `accounts`, its events on the bus `bus`; the two-person
/// rule's approvals read from the audit trail `audit` (records signed by the notifier are checked;
/// without a trail no OpenAccess of such a bucket stands).
pub fn guard_ports(
    clients: &Clients,
    accounts: Arc<Accounts>,
    config: Config,
    audit: Option<AuditConfig>,
    bus: &str,
    alarm_topic_arn: Option<String>,
    dry_run: bool,
) -> GuardPorts {
    let control = AwsControlPlane::new(clients, alarm_topic_arn).with_accounts(accounts.clone());
    let records = audit.map(|audit| TrailRecords {
        reader: S3AuditLog::for_config(clients, &audit),
        prefix: audit.prefix,
        organisation: config.organisation.is_some(),
    });
    let enforcer = Enforcer {
        records,
        store: S3Store::routed(clients, accounts, &config),
        config,
        bus: EventBridgeBus::new(clients.eventbridge.clone(), bus),
        dry_run,
    };
    GuardPorts { enforcer, control }
}

/// What is built per config in force.
#[derive(Debug)]
struct Wired {
    guard: GuardPorts,
    /// The sweep's shard records; `None` when there is no queue (or no trail): the sweep runs inline.
    shards: Option<Trail<S3AuditLog>>,
    /// Discovery's view of the accounts (organisation mode with `[discovery]`).
    directory: Option<S3Directory>,
    /// The heartbeat's marks (unsigned working state, like the shard records); `None`: no heartbeat.
    heartbeat: Option<Trail<S3AuditLog>>,
}

#[derive(Debug)]
pub struct EnforcerFunction {
    base: Base,
    expected: Expected,
    bus: String,
    queue: Option<SqsSweepQueue>,
    adopt_delay: u32,
    /// The registry of discovered buckets, beside the config object (organisation mode).
    registry: Option<S3Registry>,
    wired: PerConfig<Wired>,
}

impl Function for EnforcerFunction {
    const NAME: &'static str = "enforcer";
    async fn start(settings: Settings) -> Result<EnforcerFunction, BoxError> {
        let base = Base::start(settings).await?;
        let expected = base.settings.expected()?;
        let bus = base.settings.event_bus()?.to_owned();
        let queue =
            base.settings.sweep_queue.clone().map(|url| SqsSweepQueue::new(base.clients.sqs.clone(), url));
        // A bucket discovered from a call is checked once every function has read the grown
        // registry: one and a half refresh intervals, plus a second.
        let refresh = u32::try_from(base.source.refresh().as_secs()).unwrap_or(60);
        let adopt_delay = refresh.saturating_mul(3) / 2 + 1;
        let registry = base.settings.config_location()?.map(|(bucket, key)| {
            S3Registry::new(base.clients.s3.clone(), &bucket, &S3Registry::key_beside(&key))
        });
        Ok(EnforcerFunction {
            base,
            expected,
            bus,
            queue,
            adopt_delay,
            registry,
            wired: PerConfig::default(),
        })
    }
    async fn invoke(&self, event: LambdaEvent<Value>) -> Result<Value, BoxError> {
        let started = std::time::Instant::now();
        let answer = self.handle(&event.payload, OffsetDateTime::now_utc()).await;
        emit(&measure::enforcer(Self::NAME, &event.payload, answer.as_ref().ok(), started.elapsed()));
        answer
    }
}

impl EnforcerFunction {
    fn wire(&self, loaded: &LoadedConfig) -> Wired {
        let (clients, settings) = (&self.base.clients, &self.base.settings);
        let config = loaded.config.clone();
        // Organisation mode: each logging account through its member role, as session
        // `breakglass-enforcer`; single-account mode: the function's own credentials.
        let accounts = Accounts::for_config(clients, &config, "breakglass-enforcer");
        let directory = config.discovery.as_ref().map(|_| S3Directory::new(clients, accounts.clone()));
        let audit = settings.audit(&config).ok();
        let alarm = settings.alarm_topic_arn.clone();
        let guard = guard_ports(clients, accounts, config, audit, &self.bus, alarm, settings.dry_run);
        // Unsigned: the enforcer does not hold the records' signing key (only the notifier and the
        // recorder sign); the audit bucket's policy lets the enforcer alone write under `_sweeps/`
        // and `_heartbeat/sent/`.
        let working = |on: bool, without: &str| match (on, settings.audit(&loaded.config)) {
            (true, Ok(audit)) => Some(Trail {
                log: S3AuditLog::new(clients.s3.clone(), &audit.bucket),
                config: audit,
                config_sha256: Some(loaded.sha256.clone()),
            }),
            (true, Err(e)) => {
                tracing::error!(error = %e, "no audit trail for the enforcer's working records; {without}");
                None
            }
            (false, _) => None,
        };
        // Still safe without: every bucket is swept, in this invocation.
        let shards = working(self.queue.is_some(), "sweeping inline");
        // Without, nothing is judged: the HeartbeatAge alarm (missing data) fires.
        let heartbeat = working(settings.heartbeat.is_some(), "no heartbeat");
        Wired { guard, shards, directory, heartbeat }
    }

    pub async fn handle(&self, raw: &Value, now: OffsetDateTime) -> Result<Value, BoxError> {
        let loaded = self.base.source.current().await;
        let w = self.wired.get(&loaded, |l| self.wire(l));
        let enforcer = &w.guard.enforcer;
        // A config written past the gate: refused by every function; alerted on here, once.
        let mut alerted = Ok(());
        for refused in self.base.source.refused() {
            if let Err(e) = seal::alert(&refused, &enforcer.bus, &w.guard.control, now).await {
                tracing::error!(error = %e, what = refused.finding().what.as_str(), "config refusal not alerted");
                alerted = Err(e);
            }
        }
        let sentinel = Sentinel {
            config: &enforcer.config,
            store: &enforcer.store,
            bus: &enforcer.bus,
            control: &w.guard.control,
            expected: &self.expected,
            dry_run: self.base.settings.dry_run,
        };
        let fanout = match (&self.queue, &w.shards) {
            (Some(queue), Some(trail)) => Some(Fanout::<Aws> {
                queue,
                trail,
                close_delay: self.base.settings.sweep_close_delay,
                discovery: w.directory.as_ref().zip(self.registry.as_ref()),
                adopt_delay: self.adopt_delay,
                recheck_delay: self.base.settings.recheck_delay,
            }),
            _ => None,
        };
        let pulse = match (&w.heartbeat, self.base.settings.heartbeat) {
            (Some(trail), Some(timing)) => Some(Pulse::<Aws> { trail, timing }),
            _ => None,
        };
        let guard = Guard::<Aws> {
            enforcer,
            sentinel: &sentinel,
            fanout: fanout.as_ref(),
            heartbeat: pulse.as_ref(),
        };
        let answer = enforcer_event(&guard, raw, now).await?;
        // Failing the invocation fires the function's error alarm, the last channel left.
        alerted?;
        Ok(answer)
    }
}

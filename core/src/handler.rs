//! The Lambda handlers' logic, shared with the CLI: parse, act, answer with a JSON summary. A
//! malformed event is logged and answered (not an error), because retrying cannot fix it.

use breakglass_config::{AuditConfig, Config};
use canonical_policies::Quoted;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::events::{Misrouted, OwnEvent};
use crate::guard::enforce::{EnforceError, Enforcer};
use crate::guard::sentinel::Sentinel;
use crate::inbound::event;
use crate::inbound::route;
use crate::notify::{render_in, Rendered, Scope};
use crate::ports::{Appended, AuditLog};
use crate::ports::{
    BucketRecords, BucketSettings, ControlPlane, EventBus, PolicyStore, PortError, Publisher,
};
use crate::trail::audit::{self, Trail};

/// Where the Lambdas read their configuration (set by template.yaml): the TOML text itself, or a
/// file bundled with the function.
pub const CONFIG_ENV: &str = "BREAKGLASS_CONFIG";
pub const CONFIG_FILE_ENV: &str = "BREAKGLASS_CONFIG_FILE";
/// Organisation mode: `s3://bucket/key` of the config object in the administrative account (wins
/// over the other two; re-checked by ETag at most once a minute).
pub const CONFIG_S3_ENV: &str = "BREAKGLASS_CONFIG_S3";

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("set {CONFIG_ENV} (the config's TOML) or {CONFIG_FILE_ENV} (its path)")]
    NoConfig,
    #[error("cannot read {}: {source}", Quoted(.path))]
    Read { path: String, source: std::io::Error },
    #[error(transparent)]
    Config(#[from] breakglass_config::ConfigError),
    #[error("config {}: {source}", Quoted(.origin))]
    ConfigAt { origin: String, source: Box<breakglass_config::ConfigError> },
    #[error("invalid {CONFIG_S3_ENV} {}: expected `s3://bucket/key`", Quoted(.0))]
    ConfigLocation(String),
    #[error("cannot read the config {}: {reason}", Quoted(.origin))]
    ConfigFetch { origin: String, reason: String },
    #[error("missing environment variable `{0}`")]
    Missing(&'static str),
    #[error("no audit trail: set {AUDIT_BUCKET_ENV} or `[audit] bucket` in the config")]
    NoAudit,
    #[error(transparent)]
    Subscriptions(#[from] crate::guard::watch::ExpectedError),
}

/// The audit bucket's name, when the deployment sets it (template.yaml does).
pub const AUDIT_BUCKET_ENV: &str = "BREAKGLASS_AUDIT_BUCKET";

/// The audit trail's location: `BREAKGLASS_AUDIT_BUCKET` wins over the config's `[audit] bucket`;
/// prefix and retention come from the config or their defaults.
pub fn audit_from_env(config: &Config) -> Result<AuditConfig, SetupError> {
    let audit = match std::env::var(AUDIT_BUCKET_ENV).ok().filter(|b| !b.is_empty()) {
        Some(bucket) => AuditConfig::for_bucket(&bucket, config.audit.as_ref())?,
        None => config.audit.clone().ok_or(SetupError::NoAudit)?,
    };
    match std::env::var(RECORD_KEY_ENV).ok().filter(|k| !k.is_empty()) {
        Some(key) => Ok(audit.with_mac_key(&key)?),
        None => Ok(audit),
    }
}

/// The KMS HMAC key that signs audit records (set by template.yaml); wins over `[audit] mac_key`.
pub const RECORD_KEY_ENV: &str = "BREAKGLASS_RECORD_KEY";

/// A config with the SHA-256 of its text as stored (which every audit record names) and where it
/// came from.
#[derive(Debug)]
pub struct LoadedConfig {
    pub config: Config,
    pub sha256: String,
    pub origin: String,
    /// The version of the registry of discovered buckets merged into `config`, if any.
    pub registry: Option<String>,
}

impl LoadedConfig {
    pub fn parse(text: &str, origin: &str) -> Result<LoadedConfig, SetupError> {
        use sha2::Digest as _;
        let config = Config::from_toml(text)
            .map_err(|source| SetupError::ConfigAt { origin: origin.to_owned(), source: Box::new(source) })?;
        let sha256 = audit::hex(&sha2::Sha256::digest(text.as_bytes()));
        Ok(LoadedConfig { config, sha256, origin: origin.to_owned(), registry: None })
    }

    /// This config with the registry's buckets protected (`Config::with_discovered`); a registry
    /// entry the config cannot protect is logged as an error and left out.
    pub fn with_registry(&self, registry: &crate::guard::discovery::Registry, version: &str) -> LoadedConfig {
        let (config, refused) = self.config.with_discovered(&registry.discovered());
        for e in refused {
            tracing::error!(error = %e, "discovered bucket not protected by this config");
        }
        LoadedConfig {
            config,
            sha256: self.sha256.clone(),
            origin: self.origin.clone(),
            registry: Some(version.to_owned()),
        }
    }

    /// What tells two configs in force apart: the text's hash and the registry's version.
    fn fingerprint(&self) -> (&str, Option<&str>) {
        (&self.sha256, self.registry.as_deref())
    }
}

/// The config from `BREAKGLASS_CONFIG` or `BREAKGLASS_CONFIG_FILE`, with its hash.
pub fn loaded_from_env() -> Result<LoadedConfig, SetupError> {
    let (text, origin) = match (std::env::var(CONFIG_ENV), std::env::var(CONFIG_FILE_ENV)) {
        (Ok(text), _) if !text.trim().is_empty() => (text, CONFIG_ENV.to_owned()),
        (_, Ok(path)) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|source| SetupError::Read { path: path.clone(), source })?;
            (text, path)
        }
        _ => return Err(SetupError::NoConfig),
    };
    LoadedConfig::parse(&text, &origin)
}

/// The config text's hash and the registry's version: what [`PerConfig`] rebuilds on.
type Fingerprint = (String, Option<String>);

/// What a main builds from a config (clients per account, the enforcer), built again only when the
/// config in force changes (by hash), so that a changed config takes effect at the next event.
#[derive(Debug)]
pub struct PerConfig<T> {
    cell: std::sync::Mutex<Option<(Fingerprint, std::sync::Arc<T>)>>,
}

impl<T> Default for PerConfig<T> {
    fn default() -> Self {
        PerConfig { cell: std::sync::Mutex::new(None) }
    }
}

impl<T> PerConfig<T> {
    /// The value built for `loaded`, building it with `build` if the config changed.
    pub fn get(&self, loaded: &LoadedConfig, build: impl FnOnce(&LoadedConfig) -> T) -> std::sync::Arc<T> {
        let mut cell = self.cell.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*cell {
            Some((key, value)) if (key.0.as_str(), key.1.as_deref()) == loaded.fingerprint() => {
                std::sync::Arc::clone(value)
            }
            _ => {
                let value = std::sync::Arc::new(build(loaded));
                let key = (loaded.sha256.clone(), loaded.registry.clone());
                *cell = Some((key, std::sync::Arc::clone(&value)));
                value
            }
        }
    }
}

/// `BREAKGLASS_CONFIG_S3` as (bucket, key), if set.
pub fn config_location_from_env() -> Result<Option<(String, String)>, SetupError> {
    let Some(url) = std::env::var(CONFIG_S3_ENV).ok().filter(|v| !v.is_empty()) else { return Ok(None) };
    parse_s3_url(&url).map(Some).ok_or(SetupError::ConfigLocation(url))
}

/// `s3://bucket/key` → (bucket, key); `None` unless the bucket is a bucket name and the key is not empty.
pub fn parse_s3_url(url: &str) -> Option<(String, String)> {
    let (bucket, key) = url.strip_prefix("s3://")?.split_once('/')?;
    (breakglass_config::is_bucket_name(bucket) && !key.is_empty() && key.len() <= 1024)
        .then(|| (bucket.to_owned(), key.to_owned()))
}

/// A required environment variable.
pub fn env(name: &'static str) -> Result<String, SetupError> {
    std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or(SetupError::Missing(name))
}

/// The event, or the answer for a malformed one: logged as an error and answered, not failed, because
/// a retry would fail the same way.
fn parse_or_ignore(raw: &Value) -> Result<event::Incoming, Value> {
    event::parse(raw).map_err(|e| {
        tracing::error!(error = %e, "malformed event; not retried");
        json!({ "ignored": e.to_string() })
    })
}

/// breakglass's KMS key, for the notifier's scope (set by template.yaml).
pub const KEY_ENV: &str = "BREAKGLASS_KEY_ARN";

/// The subscriptions the notification topic must keep (`BREAKGLASS_TOPIC_ARN` and
/// `BREAKGLASS_SUBSCRIPTIONS`, both set by template.yaml); none checked when either is unset.
pub fn expected_from_env() -> Result<crate::guard::watch::Expected, SetupError> {
    let topic = std::env::var("BREAKGLASS_TOPIC_ARN").ok().filter(|v| !v.is_empty());
    let subs = std::env::var("BREAKGLASS_SUBSCRIPTIONS").ok().filter(|v| !v.is_empty());
    match (topic, subs) {
        (Some(topic), Some(subs)) => Ok(crate::guard::watch::Expected::parse(&topic, &subs)?),
        _ => Ok(crate::guard::watch::Expected::default()),
    }
}

/// What the notifier watches besides the config, from the environment.
pub fn scope_from_env() -> Scope {
    Scope { key_arn: std::env::var(KEY_ENV).ok().filter(|v| !v.is_empty()) }
}

/// The enforcer's answer to one invocation: the bucket policies only (the CLI's dry runs and the
/// benchmarks; the Lambda also runs the sentinel, see [`enforce_and_guard_event`]).
pub async fn enforce_event<S: PolicyStore, B: EventBus, T: BucketRecords>(
    enforcer: &Enforcer<S, B, T>,
    raw: &Value,
    now: OffsetDateTime,
) -> Result<Value, EnforceError> {
    let incoming = match parse_or_ignore(raw) {
        Ok(i) => i,
        Err(answer) => return Ok(answer),
    };
    let (incoming, misrouted) = route::screen(&enforcer.config, incoming, now);
    report_misrouted(enforcer, &misrouted).await?;
    let reports = enforcer.handle(&incoming, now).await?;
    Ok(summary(enforcer.dry_run, &reports, &[], &misrouted))
}

/// Puts every misrouted-event report on the bus (the notifier mails it as an alert).
async fn report_misrouted<S: PolicyStore, B: EventBus, T: BucketRecords>(
    enforcer: &Enforcer<S, B, T>,
    misrouted: &[Misrouted],
) -> Result<(), EnforceError> {
    for m in misrouted {
        enforcer.bus.put(&OwnEvent::Misrouted(m.clone()).to_bus()).await.map_err(EnforceError::Bus)?;
    }
    Ok(())
}

/// The enforcer Lambda's answer: the bucket policies first, then the paths around them (bucket
/// settings, investigator trust, subscriptions). Both always run; the first error fails the
/// invocation afterwards, so that Lambda retries and the error alarm fires.
pub async fn enforce_and_guard_event<S, B, C, T>(
    enforcer: &Enforcer<S, B, T>,
    sentinel: &Sentinel<'_, S, B, C>,
    raw: &Value,
    now: OffsetDateTime,
) -> Result<Value, EnforceError>
where
    S: PolicyStore + BucketSettings,
    B: EventBus,
    C: ControlPlane,
    T: BucketRecords,
{
    match parse_or_ignore(raw) {
        Ok(incoming) => guard(enforcer, sentinel, incoming, now).await,
        Err(answer) => Ok(answer),
    }
}

/// [`enforce_and_guard_event`] of an event already parsed.
async fn guard<S, B, C, T>(
    enforcer: &Enforcer<S, B, T>,
    sentinel: &Sentinel<'_, S, B, C>,
    incoming: event::Incoming,
    now: OffsetDateTime,
) -> Result<Value, EnforceError>
where
    S: PolicyStore + BucketSettings,
    B: EventBus,
    C: ControlPlane,
    T: BucketRecords,
{
    // Neither the enforcer nor the sentinel sees a call from another account than the bucket's.
    let (incoming, misrouted) = route::screen(&enforcer.config, incoming, now);
    let alerted = report_misrouted(enforcer, &misrouted).await;
    let policies = enforcer.handle(&incoming, now).await;
    let repairs = sentinel.handle(&incoming, now).await;
    let (reports, repairs) = (policies?, repairs?);
    alerted?;
    Ok(summary(enforcer.dry_run, &reports, &repairs, &misrouted))
}

/// The sweep at scale (`BREAKGLASS_SWEEP_QUEUE`, see [`crate::guard::sweep`]): the queue the schedule's plan
/// goes to, and the audit trail the shards record their remediations in.
#[derive(Debug)]
pub struct Fanout<'a, Q, L, D, R> {
    pub queue: &'a Q,
    pub trail: &'a Trail<L>,
    /// Seconds between the shards and the close ([`crate::guard::sweep::CLOSE_DELAY_SECONDS`]; tests lower it).
    pub close_delay: u32,
    /// Discovery (`[discovery]`, organisation mode): the accounts' buckets and the registry, run
    /// by the schedule before it plans, and on the calls that may bring a new bucket.
    pub discovery: Option<(&'a D, &'a R)>,
    /// Seconds until a bucket discovery added from a call is checked: longer than the functions
    /// take to read the grown registry (their config refresh).
    pub adopt_delay: u32,
}

/// The enforcer Lambda's answer with the sweep fanned out (`fanout`): the schedule plans shards
/// (and checks roles and subscriptions itself), the sweep queue's messages are shards and closes,
/// everything else is [`enforce_and_guard_event`]. Without `fanout` the schedule sweeps inline.
pub async fn enforcer_event<S, B, C, T, Q, L, D, R>(
    enforcer: &Enforcer<S, B, T>,
    sentinel: &Sentinel<'_, S, B, C>,
    fanout: Option<&Fanout<'_, Q, L, D, R>>,
    raw: &Value,
    now: OffsetDateTime,
) -> Result<Value, EnforceError>
where
    S: PolicyStore + BucketSettings,
    B: EventBus,
    C: ControlPlane,
    T: BucketRecords,
    Q: crate::ports::SweepQueue,
    L: AuditLog + crate::ports::AuditReader,
    D: crate::ports::Directory,
    R: crate::ports::RegistryStore,
{
    if let Some(messages) = event::sqs_messages(raw) {
        let Some(f) = fanout else {
            // Misconfigured: hand them back, so that they reach the dead-letter queue and its alarm.
            tracing::error!("sweep messages arrived, but no sweep queue is configured; handed back");
            let failed: Vec<Value> = messages.iter().map(|m| json!({ "itemIdentifier": m.id })).collect();
            return Ok(json!({ "batchItemFailures": failed }));
        };
        return Ok(crate::guard::sweep::handle_messages(enforcer, sentinel, f.trail, &messages, now).await);
    }
    // Parsed once: every guarded call of the estate passes here.
    let incoming = match parse_or_ignore(raw) {
        Ok(i) => i,
        Err(answer) => return Ok(answer),
    };
    if let (Some(f), event::Incoming::Schedule { id, time }) = (fanout, &incoming) {
        let at = time.as_deref().and_then(crate::time::parse_time).unwrap_or(now);
        let sweep = crate::guard::sweep::sweep_id(id.as_deref(), at);
        // Discovery: what it finds is written to the registry, which every function reads with the
        // config (within a minute); the next sweep covers it. This sweep plans from the config and
        // registry in force, the same that the shards, the notifier and the recorder act on. Its
        // failures are alerted on the bus by `discovery::run`.
        if let (Some((directory, store)), Some(_)) = (f.discovery, &enforcer.config.discovery) {
            if let Err(e) =
                crate::guard::discovery::run(&enforcer.config, directory, store, &enforcer.bus, now).await
            {
                tracing::error!(error = %e, "discovery failed; the registry in force stays");
            }
        }
        let sent = crate::guard::sweep::send_plan(
            &enforcer.config,
            f.queue,
            &sweep,
            crate::guard::sweep::settings_due(at),
            f.close_delay,
        )
        .await;
        let control = sentinel.control_checks(now).await;
        let (shards, buckets) = sent.map_err(EnforceError::Queue)?;
        let repairs = control?;
        tracing::info!(sweep = sweep.as_str(), shards, buckets, "sweep planned");
        let mut answer = summary(enforcer.dry_run, &[], &repairs, &[]);
        if let Some(a) = answer.as_object_mut() {
            a.insert("sweep".into(), json!({ "id": sweep, "shards": shards, "buckets": buckets }));
        }
        return Ok(answer);
    }
    let adopted = match (fanout, &incoming) {
        (Some(f), event::Incoming::ApiCalls(calls)) => adopt_new_buckets(enforcer, f, calls, now).await,
        _ => 0,
    };
    let mut answer = guard(enforcer, sentinel, incoming, now).await?;
    if let (Some(a), true) = (answer.as_object_mut(), adopted > 0) {
        a.insert("discovered".into(), json!(adopted));
    }
    Ok(answer)
}

/// Discovery on the calls that may bring a new log bucket ([`crate::guard::discovery::CALLS`]): each
/// bucket found is added to the registry and checked by a one-bucket sweep once the functions have
/// read it. A failure here is logged, not fatal: the scheduled discovery is the net under it.
async fn adopt_new_buckets<S, B, T, Q, L, D, R>(
    enforcer: &Enforcer<S, B, T>,
    f: &Fanout<'_, Q, L, D, R>,
    calls: &[event::ApiCall],
    now: OffsetDateTime,
) -> usize
where
    S: PolicyStore,
    B: EventBus,
    T: BucketRecords,
    Q: crate::ports::SweepQueue,
    D: crate::ports::Directory,
    R: crate::ports::RegistryStore,
{
    let Some((directory, store)) = f.discovery else { return 0 };
    let mut adopted = 0;
    for call in calls.iter().filter(|c| crate::guard::discovery::candidate(&enforcer.config, c).is_some()) {
        match crate::guard::discovery::adopt(&enforcer.config, directory, store, &enforcer.bus, call, now)
            .await
        {
            Ok(Some(entry)) => {
                adopted += 1;
                let sweep = crate::guard::sweep::sweep_id(call.event_id.as_deref(), now);
                if let Err(e) =
                    crate::guard::sweep::send_adopted(f.queue, &sweep, &entry, f.adopt_delay, f.close_delay)
                        .await
                {
                    tracing::error!(bucket = entry.name.as_str(), error = %e, "discovered, but its check could not be queued; the next sweep checks it");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "discovery on a call failed; the scheduled one will retry"),
        }
    }
    adopted
}

fn summary(
    dry_run: bool,
    reports: &[crate::guard::enforce::Report],
    repairs: &[crate::guard::sentinel::Repair],
    misrouted: &[Misrouted],
) -> Value {
    let buckets: Vec<Value> = reports
        .iter()
        .map(|r| {
            json!({
                "bucket": r.bucket,
                "before": r.before,
                "before_hash": r.before_hash.map(|h| h.to_string()),
                "outcome": r.outcome.word(),
                "reason": r.reason,
                "after_hash": r.after_hash.map(|h| h.to_string()),
            })
        })
        .collect();
    let repairs: Vec<Value> = repairs
        .iter()
        .map(|r| json!({ "kind": r.kind, "subject": r.subject, "what": r.what, "repaired": r.repaired, "error": r.error }))
        .collect();
    let misrouted: Vec<Value> = misrouted
        .iter()
        .map(|m| json!({ "bucket": m.bucket, "bucket_account": m.bucket_account, "event_accounts": m.event_accounts }))
        .collect();
    json!({ "dry_run": dry_run, "buckets": buckets, "repairs": repairs, "misrouted": misrouted })
}

#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} notifications could not be published or recorded: {first}")]
pub struct NotifyError {
    pub failed: usize,
    pub total: usize,
    pub first: PortError,
}

/// The notifier's answer to one invocation: every message is recorded in the audit trail (when there
/// is one) and published; any failure is an error afterwards, so Lambda retries (the record's key is
/// its content's hash, so a retry does not record twice) and the failure shows in metrics and alarms.
pub async fn notify_event<P: Publisher, L: AuditLog>(
    config: &Config,
    publisher: &P,
    trail: Option<&Trail<L>>,
    raw: &Value,
    now: OffsetDateTime,
) -> Result<Value, NotifyError> {
    notify_event_in(config, &Scope::default(), publisher, None, trail, raw, now).await
}

/// [`notify_event`], also watching what `scope` names; a message about an attack on the mail
/// channel itself goes to `alarm` (the second channel) as well.
pub async fn notify_event_in<P: Publisher, L: AuditLog>(
    config: &Config,
    scope: &Scope,
    publisher: &P,
    alarm: Option<&P>,
    trail: Option<&Trail<L>>,
    raw: &Value,
    now: OffsetDateTime,
) -> Result<Value, NotifyError> {
    let incoming = match parse_or_ignore(raw) {
        Ok(i) => i,
        Err(answer) => return Ok(answer),
    };
    let mut sent = Vec::new();
    let mut ignored = Vec::new();
    let mut recorded = Vec::new();
    let mut errors = Vec::new();
    let rendered = render_in(config, scope, &incoming, now);
    // One of breakglass's own events is recorded from its type, a CloudTrail call from its document.
    let own = match &incoming {
        crate::inbound::event::Incoming::Custom { detail_type, detail, .. } => {
            OwnEvent::from_bus(detail_type, detail).ok()
        }
        _ => None,
    };
    let (mut total, mut failed_messages) = (0, 0);
    for r in rendered {
        let n = match r {
            Rendered::Ignored(reason) => {
                tracing::info!(reason = reason.as_str(), "nothing to notify");
                ignored.push(reason);
                continue;
            }
            Rendered::Send(n) => n,
        };
        total += 1;
        let mut failed = false;
        // The record first: it must exist even when the mail cannot be sent.
        if let (Some(trail), Some(record)) =
            (trail, audit::record(&n, own.as_ref(), now, trail.and_then(|t| t.config_sha256.as_deref())))
        {
            match trail.write(&record, now).await {
                Ok(done) => recorded.push(json!({
                    "key": format!("{}{}", trail.config.prefix, record.key),
                    "new": done == Appended::Written,
                })),
                Err(e) => {
                    tracing::error!(error = %e, key = record.key.as_str(), "audit record not written");
                    errors.push(e);
                    failed = true;
                }
            }
        }
        // The call attacked the mail channel itself: the alarm topic carries it too.
        let channels = std::iter::once(publisher).chain(alarm.filter(|_| n.second_channel));
        for channel in channels {
            match channel.publish(&n).await {
                Ok(id) => sent.push(json!({ "message_id": id, "subject": n.subject })),
                Err(e) => {
                    tracing::error!(error = %e, subject = n.subject.as_str(), "publish failed");
                    errors.push(e);
                    failed = true;
                }
            }
        }
        failed_messages += usize::from(failed);
    }
    match errors.into_iter().next() {
        Some(first) => Err(NotifyError { failed: failed_messages, total, first }),
        None => Ok(json!({ "sent": sent, "recorded": recorded, "ignored": ignored })),
    }
}

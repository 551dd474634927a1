//! The deployment's settings, read from the environment in this one place (template.yaml sets
//! them; the end-to-end tests lower some delays). [`Settings::from_env`] reads the process
//! environment; [`Settings::from_lookup`] reads any lookup, so that tests need not touch it.

use std::time::Duration;

use breakglass_config::{AuditConfig, Config};
use canonical_policies::Quoted;

use crate::guard::watch::Expected;
use crate::notify::Scope;
use crate::trail::recorder::{Timing, REPORT_DELAY, SLOT};

/// Where the Lambdas read their configuration (set by template.yaml): the TOML text itself, or a
/// file bundled with the function.
pub const CONFIG_ENV: &str = "BREAKGLASS_CONFIG";
pub const CONFIG_FILE_ENV: &str = "BREAKGLASS_CONFIG_FILE";
/// Organisation mode: `s3://bucket/key` of the config object in the administrative account (wins
/// over the other two; re-checked by ETag at most once a minute).
pub const CONFIG_S3_ENV: &str = "BREAKGLASS_CONFIG_S3";
/// How often the config object is re-checked at most, in seconds (tests lower it; 1 to 60).
pub const CONFIG_REFRESH_ENV: &str = "BREAKGLASS_CONFIG_REFRESH_SECONDS";
/// The audit bucket's name, when the deployment sets it (template.yaml does).
pub const AUDIT_BUCKET_ENV: &str = "BREAKGLASS_AUDIT_BUCKET";
/// The KMS HMAC key that signs audit records (set by template.yaml); wins over `[audit] mac_key`.
pub const RECORD_KEY_ENV: &str = "BREAKGLASS_RECORD_KEY";
/// breakglass's KMS key, for the notifier's scope (set by template.yaml).
pub const KEY_ENV: &str = "BREAKGLASS_KEY_ARN";
/// The notification topic, and the subscriptions it must keep.
pub const TOPIC_ENV: &str = "BREAKGLASS_TOPIC_ARN";
pub const SUBSCRIPTIONS_ENV: &str = "BREAKGLASS_SUBSCRIPTIONS";
/// The second channel, for attacks on the first; its subscriptions, when they are not those
/// flagged `"alarm": true` in [`SUBSCRIPTIONS_ENV`].
pub const ALARM_TOPIC_ENV: &str = "BREAKGLASS_ALARM_TOPIC_ARN";
pub const ALARM_SUBSCRIPTIONS_ENV: &str = "BREAKGLASS_ALARM_SUBSCRIPTIONS";
/// breakglass's own event bus.
pub const EVENT_BUS_ENV: &str = "BREAKGLASS_EVENT_BUS";
/// `true`: report without writing.
pub const DRY_RUN_ENV: &str = "BREAKGLASS_DRY_RUN";
/// The sweep's queue URL: the scheduled sweep fans out by shard.
pub const SWEEP_QUEUE_ENV: &str = "BREAKGLASS_SWEEP_QUEUE";
/// Seconds between the sweep's shards and its close (tests lower it).
pub const SWEEP_CLOSE_DELAY_ENV: &str = "BREAKGLASS_SWEEP_CLOSE_DELAY_SECONDS";
/// Seconds until a call whose write S3 had not shown within the waits is judged again (tests lower
/// it; a recheck never waits nor sends another, so no delay loops, but a short one may still find
/// S3 stale).
pub const RECHECK_DELAY_ENV: &str = "BREAKGLASS_RECHECK_DELAY_SECONDS";
/// The heartbeat's period in seconds: set, the enforcer's scheduled run sends and judges the
/// heartbeat (template.yaml sets the schedule's 900); unset, there is none. Tests lower it.
pub const HEARTBEAT_PERIOD_ENV: &str = "BREAKGLASS_HEARTBEAT_PERIOD_SECONDS";
/// How old the last heartbeat may be before its half is alarmed, in seconds (two periods unless set).
pub const HEARTBEAT_DEADLINE_ENV: &str = "BREAKGLASS_HEARTBEAT_DEADLINE_SECONDS";
/// The Service Catalog products, and who may provision them.
pub const CATALOG_PRODUCTS_ENV: &str = "BREAKGLASS_CATALOG_PRODUCTS";
pub const CATALOG_PRINCIPALS_ENV: &str = "BREAKGLASS_CATALOG_PRINCIPALS";
/// The gate: the operator roles (names, comma-separated) whose sessions may call it.
pub const GATE_ROLES_ENV: &str = "BREAKGLASS_GATE_ROLES";
/// The recorder's digest slot, shorter for tests (seconds, 1 to 300); production uses
/// [`SLOT`].
pub const SLOT_ENV: &str = "BREAKGLASS_DIGEST_SLOT_SECONDS";
/// The recorder's report delay, shorter for tests (seconds, 0 to 600); production uses
/// [`REPORT_DELAY`].
pub const REPORT_DELAY_ENV: &str = "BREAKGLASS_REPORT_DELAY_SECONDS";
/// Where the AWS clients send their requests (moto in tests).
pub const ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL";
/// Lambda's log format (`LoggingConfig.LogFormat`): `JSON` or `Text`, set by Lambda itself.
pub const LOG_FORMAT_ENV: &str = "AWS_LAMBDA_LOG_FORMAT";
/// Lambda's application log level (`LoggingConfig.ApplicationLogLevel`, JSON format only), set by
/// Lambda; wins over [`RUST_LOG_ENV`].
pub const LOG_LEVEL_ENV: &str = "AWS_LAMBDA_LOG_LEVEL";
/// The log level elsewhere (a plain level such as `debug`: no per-module filters, which would pull
/// a regex engine into every zip).
pub const RUST_LOG_ENV: &str = "RUST_LOG";
/// The AWS clients' bounds, in whole seconds ([`Timeouts`]): opening a connection, one attempt
/// (request to full answer), and the whole operation with its retries.
pub const CONNECT_TIMEOUT_ENV: &str = "BREAKGLASS_CONNECT_TIMEOUT_SECONDS";
pub const ATTEMPT_TIMEOUT_ENV: &str = "BREAKGLASS_ATTEMPT_TIMEOUT_SECONDS";
pub const OPERATION_TIMEOUT_ENV: &str = "BREAKGLASS_OPERATION_TIMEOUT_SECONDS";

/// How often the config object is re-checked at most, unless [`CONFIG_REFRESH_ENV`] lowers it.
pub const REFRESH: Duration = Duration::from_secs(60);

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
    #[error(transparent)]
    Timeout(#[from] TimeoutSettingError),
    #[error("no AWS Region: set AWS_REGION (or `region` in the profile's config)")]
    NoRegion,
    #[error("invalid endpoint {}: expected `http://host[:port]` or `https://host[:port]`", Quoted(.0))]
    Endpoint(String),
}

/// How long an AWS call may take. The defaults end every call within 30 s, inside the functions'
/// time limit and before an operator gives up on the CLI; a hung endpoint then ends in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening a connection (TCP and TLS).
    pub connect: Duration,
    /// One attempt: the request sent and its answer read.
    pub attempt: Duration,
    /// The whole operation, every retry included.
    pub operation: Duration,
}

/// The longest a timeout may be set to: the CLI and the functions must still end.
pub const MAX_TIMEOUT_SECONDS: u64 = 900;

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(3),
            attempt: Duration::from_secs(10),
            operation: Duration::from_secs(25),
        }
    }
}

/// A timeout variable that is not a number of seconds the clients can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {name} {}: expected whole seconds from 1 to {MAX_TIMEOUT_SECONDS}", Quoted(.value))]
pub struct TimeoutSettingError {
    pub name: &'static str,
    pub value: String,
}

impl Timeouts {
    /// The three variables over the defaults; an unset or empty one keeps its default.
    fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Timeouts, TimeoutSettingError> {
        let seconds = |name: &'static str, default: Duration| match lookup(name).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(value) => match value.trim().parse::<u64>() {
                Ok(s) if (1..=MAX_TIMEOUT_SECONDS).contains(&s) => Ok(Duration::from_secs(s)),
                _ => Err(TimeoutSettingError { name, value }),
            },
        };
        let d = Timeouts::default();
        Ok(Timeouts {
            connect: seconds(CONNECT_TIMEOUT_ENV, d.connect)?,
            attempt: seconds(ATTEMPT_TIMEOUT_ENV, d.attempt)?,
            operation: seconds(OPERATION_TIMEOUT_ENV, d.operation)?,
        })
    }
}

/// Every setting the functions and the CLI take from the environment. Empty values count as unset,
/// except where noted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// [`CONFIG_ENV`] (blank counts as unset).
    pub config_text: Option<String>,
    /// [`CONFIG_FILE_ENV`], as set (an empty path is a read error, not "unset").
    pub config_file: Option<String>,
    /// [`CONFIG_S3_ENV`], unparsed.
    pub config_s3: Option<String>,
    /// [`CONFIG_REFRESH_ENV`] clamped to 1 to 60 seconds, else [`REFRESH`].
    pub config_refresh: Duration,
    pub audit_bucket: Option<String>,
    pub record_key: Option<String>,
    pub key_arn: Option<String>,
    pub topic_arn: Option<String>,
    pub subscriptions: Option<String>,
    /// [`ALARM_TOPIC_ENV`], as set (the enforcer and the CLI take an empty one as given).
    pub alarm_topic_arn: Option<String>,
    pub alarm_subscriptions: Option<String>,
    pub event_bus: Option<String>,
    pub dry_run: bool,
    pub sweep_queue: Option<String>,
    /// [`SWEEP_CLOSE_DELAY_ENV`], else [`crate::guard::sweep::CLOSE_DELAY_SECONDS`].
    pub sweep_close_delay: u32,
    /// [`RECHECK_DELAY_ENV`], else [`crate::guard::sweep::RECHECK_DELAY_SECONDS`].
    pub recheck_delay: u32,
    /// [`HEARTBEAT_PERIOD_ENV`] (a positive number of seconds) and [`HEARTBEAT_DEADLINE_ENV`];
    /// `None`: no heartbeat.
    pub heartbeat: Option<crate::guard::heartbeat::Timing>,
    /// The lists as set; empty when unset.
    pub catalog_products: String,
    pub catalog_principals: String,
    /// [`GATE_ROLES_ENV`], split at commas, blanks dropped.
    pub gate_roles: Vec<String>,
    /// The recorder's digest slot and report delay ([`SLOT_ENV`], [`REPORT_DELAY_ENV`]).
    pub timing: Timing,
    pub endpoint_url: Option<String>,
    /// JSON log lines when [`LOG_FORMAT_ENV`] is `JSON`, else plain text.
    pub log_format: LogFormat,
    /// [`LOG_LEVEL_ENV`], else [`RUST_LOG_ENV`], as a level (`FATAL` is `ERROR`); else `INFO`.
    pub log_level: tracing::Level,
    /// The AWS clients' timeouts ([`CONNECT_TIMEOUT_ENV`] and the two others), or the first
    /// invalid one: reported when the clients are built, which every AWS path does first.
    pub timeouts: Result<Timeouts, TimeoutSettingError>,
}

/// How the functions write their log lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings::from_lookup(|_| None)
    }
}

impl Settings {
    /// The process environment.
    pub fn from_env() -> Settings {
        Settings::from_lookup(|k| std::env::var(k).ok())
    }

    /// Any environment: `lookup` gives a variable's value, `None` when unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Settings {
        let set = |k: &str| lookup(k).filter(|v| !v.is_empty());
        let number = |k: &str| lookup(k).and_then(|v| v.parse::<i64>().ok());
        Settings {
            config_text: lookup(CONFIG_ENV).filter(|t| !t.trim().is_empty()),
            config_file: lookup(CONFIG_FILE_ENV),
            config_s3: set(CONFIG_S3_ENV),
            config_refresh: lookup(CONFIG_REFRESH_ENV)
                .and_then(|s| s.parse::<u64>().ok())
                .map_or(REFRESH, |s| Duration::from_secs(s.clamp(1, 60))),
            audit_bucket: set(AUDIT_BUCKET_ENV),
            record_key: set(RECORD_KEY_ENV),
            key_arn: set(KEY_ENV),
            topic_arn: set(TOPIC_ENV),
            subscriptions: set(SUBSCRIPTIONS_ENV),
            alarm_subscriptions: set(ALARM_SUBSCRIPTIONS_ENV),
            alarm_topic_arn: lookup(ALARM_TOPIC_ENV),
            event_bus: set(EVENT_BUS_ENV),
            dry_run: lookup(DRY_RUN_ENV).is_some_and(|v| v == "true"),
            sweep_queue: set(SWEEP_QUEUE_ENV),
            sweep_close_delay: lookup(SWEEP_CLOSE_DELAY_ENV)
                .and_then(|s| s.parse().ok())
                .unwrap_or(crate::guard::sweep::CLOSE_DELAY_SECONDS),
            recheck_delay: lookup(RECHECK_DELAY_ENV)
                .and_then(|s| s.parse().ok())
                .map_or(crate::guard::sweep::RECHECK_DELAY_SECONDS, |d: u32| d.min(900)),
            // At most a week each: a larger number would overflow the time arithmetic it goes into.
            heartbeat: number(HEARTBEAT_PERIOD_ENV).filter(|p| *p > 0).map(|p| {
                const WEEK: i64 = 7 * 86_400;
                let period = time::Duration::seconds(p.min(WEEK));
                let deadline = number(HEARTBEAT_DEADLINE_ENV).filter(|d| *d > 0).map(|d| d.min(2 * WEEK));
                let deadline = deadline.map_or(period * 2, time::Duration::seconds);
                crate::guard::heartbeat::Timing { period, deadline }
            }),
            catalog_products: lookup(CATALOG_PRODUCTS_ENV).unwrap_or_default(),
            catalog_principals: lookup(CATALOG_PRINCIPALS_ENV).unwrap_or_default(),
            gate_roles: lookup(GATE_ROLES_ENV)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
            timing: Timing {
                slot: number(SLOT_ENV)
                    .map_or(SLOT, |s| time::Duration::seconds(s.clamp(1, SLOT.whole_seconds()))),
                report_delay: number(REPORT_DELAY_ENV).map_or(REPORT_DELAY, |s| {
                    time::Duration::seconds(s.clamp(0, REPORT_DELAY.whole_seconds()))
                }),
            },
            endpoint_url: set(ENDPOINT_ENV),
            log_format: match set(LOG_FORMAT_ENV) {
                Some(f) if f.eq_ignore_ascii_case("json") => LogFormat::Json,
                _ => LogFormat::Text,
            },
            log_level: set(LOG_LEVEL_ENV)
                .or_else(|| set(RUST_LOG_ENV))
                .and_then(|l| level(&l))
                .unwrap_or(tracing::Level::INFO),
            timeouts: Timeouts::from_lookup(&lookup),
        }
    }

    /// The event bus, required by the functions that put events on it.
    pub fn event_bus(&self) -> Result<&str, SetupError> {
        self.event_bus.as_deref().ok_or(SetupError::Missing(EVENT_BUS_ENV))
    }

    /// The gate's operator roles, required by the gate (without them nobody may call it).
    pub fn gate_roles(&self) -> Result<&[String], SetupError> {
        match self.gate_roles.as_slice() {
            [] => Err(SetupError::Missing(GATE_ROLES_ENV)),
            roles => Ok(roles),
        }
    }

    /// The notification topic, required by the notifier.
    pub fn topic_arn(&self) -> Result<&str, SetupError> {
        self.topic_arn.as_deref().ok_or(SetupError::Missing(TOPIC_ENV))
    }

    /// The alarm topic, when set and not empty (the notifier's second channel).
    pub fn alarm_topic(&self) -> Option<&str> {
        self.alarm_topic_arn.as_deref().filter(|t| !t.is_empty())
    }

    /// [`CONFIG_S3_ENV`] as (bucket, key), if set.
    pub fn config_location(&self) -> Result<Option<(String, String)>, SetupError> {
        let Some(url) = &self.config_s3 else { return Ok(None) };
        parse_s3_url(url).map(Some).ok_or_else(|| SetupError::ConfigLocation(url.clone()))
    }

    /// The audit trail's location: [`AUDIT_BUCKET_ENV`] wins over the config's `[audit] bucket`;
    /// prefix and retention come from the config or their defaults; [`RECORD_KEY_ENV`] wins over
    /// `[audit] mac_key`.
    pub fn audit(&self, config: &Config) -> Result<AuditConfig, SetupError> {
        let audit = match &self.audit_bucket {
            Some(bucket) => AuditConfig::for_bucket(bucket, config.audit.as_ref())?,
            None => config.audit.clone().ok_or(SetupError::NoAudit)?,
        };
        match &self.record_key {
            Some(key) => Ok(audit.with_mac_key(key)?),
            None => Ok(audit),
        }
    }

    /// The subscriptions the notification topic must keep ([`TOPIC_ENV`] and
    /// [`SUBSCRIPTIONS_ENV`]; not checked when either is unset), and the alarm topic's
    /// ([`ALARM_TOPIC_ENV`]: the subscriptions flagged `"alarm": true`, or
    /// [`ALARM_SUBSCRIPTIONS_ENV`] where its subscribers are others).
    pub fn expected(&self) -> Result<Expected, SetupError> {
        let mut expected = match (&self.topic_arn, &self.subscriptions) {
            (Some(topic), Some(subs)) => Expected::parse(topic, subs)?,
            _ => Expected::default(),
        };
        if let Some(topic) = self.alarm_topic_arn.as_deref().filter(|t| !t.is_empty()) {
            expected = expected.with_alarm(topic, self.alarm_subscriptions.as_deref())?;
        }
        Ok(expected)
    }

    /// What the notifier watches besides the config.
    pub fn scope(&self) -> Scope {
        Scope { key_arn: self.key_arn.clone() }
    }
}

/// A log level as Lambda or `RUST_LOG` spells it, any case; `None` for anything else (a
/// per-module filter, a typo), which leaves the default.
fn level(name: &str) -> Option<tracing::Level> {
    match name.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Some(tracing::Level::TRACE),
        "DEBUG" => Some(tracing::Level::DEBUG),
        "INFO" => Some(tracing::Level::INFO),
        "WARN" => Some(tracing::Level::WARN),
        "ERROR" | "FATAL" => Some(tracing::Level::ERROR),
        _ => None,
    }
}

/// `s3://bucket/key` → (bucket, key); `None` unless the bucket is a bucket name and the key is not empty.
pub fn parse_s3_url(url: &str) -> Option<(String, String)> {
    let (bucket, key) = url.strip_prefix("s3://")?.split_once('/')?;
    (breakglass_config::is_bucket_name(bucket) && !key.is_empty() && key.len() <= 1024)
        .then(|| (bucket.to_owned(), key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Settings {
        let vars: Vec<(String, String)> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Settings::from_lookup(|k| vars.iter().find(|(name, _)| name == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn nothing_set_gives_the_defaults() {
        let s = settings(&[]);
        assert_eq!(s.config_refresh, REFRESH);
        assert_eq!(s.sweep_close_delay, crate::guard::sweep::CLOSE_DELAY_SECONDS);
        assert_eq!(s.timing, Timing::default());
        assert!(!s.dry_run);
        assert_eq!(
            s.event_bus().unwrap_err().to_string(),
            "missing environment variable `BREAKGLASS_EVENT_BUS`"
        );
        assert!(s.config_location().unwrap().is_none());
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(s.log_level, tracing::Level::INFO);
        assert_eq!(s.timeouts, Ok(Timeouts::default()));
        assert_eq!(Settings::default(), s);
    }

    #[test]
    fn the_heartbeat_is_on_with_a_period_and_its_deadline_is_two_unless_set() {
        assert_eq!(settings(&[]).heartbeat, None);
        assert_eq!(settings(&[(HEARTBEAT_PERIOD_ENV, "0")]).heartbeat, None);
        let on = settings(&[(HEARTBEAT_PERIOD_ENV, "900")]).heartbeat.unwrap();
        assert_eq!(on, crate::guard::heartbeat::Timing::default());
        let set = settings(&[(HEARTBEAT_PERIOD_ENV, "2"), (HEARTBEAT_DEADLINE_ENV, "5")]).heartbeat.unwrap();
        assert_eq!((set.period.whole_seconds(), set.deadline.whole_seconds()), (2, 5));
    }

    #[test]
    fn lambdas_log_settings_win_over_rust_log() {
        let s = settings(&[(LOG_FORMAT_ENV, "JSON"), (LOG_LEVEL_ENV, "FATAL"), (RUST_LOG_ENV, "debug")]);
        assert_eq!((s.log_format, s.log_level), (LogFormat::Json, tracing::Level::ERROR));
        let s = settings(&[(LOG_FORMAT_ENV, "Text"), (RUST_LOG_ENV, "debug")]);
        assert_eq!((s.log_format, s.log_level), (LogFormat::Text, tracing::Level::DEBUG));
        // A per-module filter is not a level: the default stays.
        let s = settings(&[(LOG_LEVEL_ENV, ""), (RUST_LOG_ENV, "breakglass=trace")]);
        assert_eq!(s.log_level, tracing::Level::INFO);
    }

    #[test]
    fn timeouts_are_whole_seconds_and_a_bad_one_is_named() {
        let s =
            settings(&[(CONNECT_TIMEOUT_ENV, "1"), (OPERATION_TIMEOUT_ENV, "4"), (ATTEMPT_TIMEOUT_ENV, "")]);
        let t = s.timeouts.unwrap();
        assert_eq!(t.connect, Duration::from_secs(1));
        assert_eq!(t.attempt, Timeouts::default().attempt);
        assert_eq!(t.operation, Duration::from_secs(4));
        for bad in ["0", "-1", "2.5", "ten", "901"] {
            let err = settings(&[(ATTEMPT_TIMEOUT_ENV, bad)]).timeouts.unwrap_err();
            assert_eq!(
                SetupError::from(err).to_string(),
                format!("invalid BREAKGLASS_ATTEMPT_TIMEOUT_SECONDS `{bad}`: expected whole seconds from 1 to 900")
            );
        }
    }

    #[test]
    fn the_default_timeouts_end_a_call_within_30_seconds() {
        let t = Timeouts::default();
        assert!(t.connect <= t.attempt && t.attempt <= t.operation);
        assert!(t.operation < Duration::from_secs(30));
    }

    #[test]
    fn empty_values_count_as_unset_and_numbers_are_clamped() {
        let s = settings(&[
            (CONFIG_ENV, "  "),
            (EVENT_BUS_ENV, ""),
            (CONFIG_REFRESH_ENV, "600"),
            (SLOT_ENV, "0"),
            (REPORT_DELAY_ENV, "5"),
            (DRY_RUN_ENV, "true"),
            (ALARM_TOPIC_ENV, ""),
        ]);
        assert_eq!(s.config_text, None);
        assert_eq!(s.event_bus, None);
        assert_eq!(s.config_refresh, Duration::from_secs(60));
        assert_eq!(s.timing.slot, time::Duration::seconds(1));
        assert_eq!(s.timing.report_delay, time::Duration::seconds(5));
        assert!(s.dry_run);
        assert_eq!(s.alarm_topic_arn.as_deref(), Some(""));
        assert_eq!(s.alarm_topic(), None);
        assert_eq!(
            s.gate_roles().unwrap_err().to_string(),
            "missing environment variable `BREAKGLASS_GATE_ROLES`"
        );
        let s = settings(&[(GATE_ROLES_ENV, " breakglass-operator, ,Other")]);
        assert_eq!(s.gate_roles().unwrap(), ["breakglass-operator", "Other"]);
    }

    #[test]
    fn a_config_location_must_be_an_s3_url() {
        let s = settings(&[(CONFIG_S3_ENV, "s3://cfg-bucket/breakglass.toml")]);
        assert_eq!(s.config_location().unwrap(), Some(("cfg-bucket".into(), "breakglass.toml".into())));
        let bad = settings(&[(CONFIG_S3_ENV, "cfg-bucket")]);
        assert_eq!(
            bad.config_location().unwrap_err().to_string(),
            "invalid BREAKGLASS_CONFIG_S3 `cfg-bucket`: expected `s3://bucket/key`"
        );
    }
}

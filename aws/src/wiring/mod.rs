//! The composition of clients and ports, written once: each Lambda's main starts its function here
//! and hands it every event, and the CLI builds the same ports. Every setting comes from
//! [`Settings`] (the environment, read once); the config in force from [`ConfigSource`], and what
//! depends on it is built again only when it changes ([`breakglass_core::runtime::PerConfig`]).

mod catalog;
mod enforcer;
mod gate;
mod notifier;
mod recorder;

pub use catalog::CatalogFunction;
pub use enforcer::{guard_ports, Aws, EnforcerFunction, GuardPorts};
pub use gate::GateFunction;
pub use notifier::NotifierFunction;
pub use recorder::RecorderFunction;

use std::future::Future;
use std::sync::Arc;

use breakglass_config::AuditConfig;
use breakglass_core::metrics::Metrics;
use breakglass_core::runtime::{LoadedConfig, LogFormat, PerConfig, Settings, SetupError};
use breakglass_core::trail::audit::Trail;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use tracing::Instrument as _;

use crate::{Clients, ConfigSource, S3AuditLog};

/// What a function answers with when it fails (the Lambda runtime's error type).
pub type BoxError = lambda_runtime::Error;

/// One Lambda function: started once per process, then handed every invocation.
pub trait Function: Sized {
    /// The function's short name (`enforcer`, …): in every log line and as the metrics' `Function`.
    const NAME: &'static str;
    /// Cold start: clients and the config in force from `settings`; an error stops the process.
    fn start(settings: Settings) -> impl Future<Output = Result<Self, BoxError>>;
    /// One invocation's answer; an error fails it (Lambda retries, the error alarm fires).
    fn invoke(&self, event: LambdaEvent<Value>) -> impl Future<Output = Result<Value, BoxError>>;
}

/// A Lambda main: logging, [`Function::start`], then every event to [`Function::invoke`]. A
/// failure to start is logged in one line and ends the process with the error.
pub async fn serve<F: Function>() -> Result<(), BoxError> {
    let settings = Settings::from_env();
    init_logging(&settings);
    // Every line names the release and the function. At error level, so that no level setting
    // drops the span from the lines it lets through.
    let span = tracing::error_span!("breakglass", version = breakglass_core::VERSION, function = F::NAME);
    // One readable line naming what is missing or wrong, not only the Debug form Rust prints when
    // main fails (Lambda then reports the failed init).
    let function = &F::start(settings)
        .instrument(span.clone())
        .await
        .inspect_err(|e| span.in_scope(|| tracing::error!(error = %e, "cannot start")))?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        function.invoke(event).instrument(span.clone())
    }))
    .await
}

/// The functions' log lines at the level of [`Settings::log_level`]: one JSON object per line when
/// Lambda's log format is JSON (`message` and `level` at the top, the span's version and function
/// under `span`), else plain text without colours or times (CloudWatch adds its own).
fn init_logging(settings: &Settings) {
    let lines =
        tracing_subscriber::fmt().with_ansi(false).with_target(false).with_max_level(settings.log_level);
    match settings.log_format {
        LogFormat::Json => {
            lines.json().flatten_event(true).with_current_span(true).with_span_list(false).init()
        }
        LogFormat::Text => lines.without_time().init(),
    }
}

/// Prints each metrics line (EMF) on stdout, where CloudWatch Logs extracts it: a line of its own,
/// not a log event, which would wrap it.
fn emit(metrics: &[Metrics]) {
    let now = time::OffsetDateTime::now_utc();
    for line in metrics.iter().filter_map(|m| m.to_line(now)) {
        println!("{line}");
    }
}

/// What every function starts from: its settings, the clients, and the config in force.
#[derive(Debug)]
struct Base {
    settings: Settings,
    clients: Clients,
    source: ConfigSource,
}

impl Base {
    /// A config that cannot be read at cold start stops the function (fail closed).
    async fn start(settings: Settings) -> Result<Base, SetupError> {
        let clients = Clients::load(settings.endpoint_url.as_deref()).await?;
        let source = ConfigSource::load(&clients, &settings).await?;
        Ok(Base { settings, clients, source })
    }
}

/// A function that writes the audit trail (the notifier, the recorder, the gate): it does not start without
/// one, and builds it once per config in force.
#[derive(Debug)]
struct Trailed {
    base: Base,
    trails: PerConfig<Result<Trail<S3AuditLog>, SetupError>>,
}

impl Trailed {
    async fn start(settings: Settings) -> Result<Trailed, SetupError> {
        let base = Base::start(settings).await?;
        // Checked at cold start: without an audit trail the function does not start.
        base.settings.audit(&base.source.current().await.config)?;
        Ok(Trailed { base, trails: PerConfig::default() })
    }

    /// The config in force and its trail: every record signed with the records' HMAC key, so that
    /// `history` can tell it from a forgery, and naming the config it was decided under.
    async fn in_force(&self) -> (Arc<LoadedConfig>, Arc<Result<Trail<S3AuditLog>, SetupError>>) {
        let loaded = self.base.source.current().await;
        let trail = self.trails.get(&loaded, |l| audit_trail(&self.base.clients, &self.base.settings, l));
        (loaded, trail)
    }
}

/// The audit trail of the config in force, as the notifier and the recorder write it: the bucket
/// and records key from the settings (`BREAKGLASS_AUDIT_BUCKET`, `BREAKGLASS_RECORD_KEY`) or the
/// config, every record signed and naming the config's SHA-256.
pub fn audit_trail(
    clients: &Clients,
    settings: &Settings,
    loaded: &LoadedConfig,
) -> Result<Trail<S3AuditLog>, SetupError> {
    settings.audit(&loaded.config).map(|audit| trail(clients, audit, Some(loaded.sha256.clone())))
}

/// The trail `audit` names, signed with its records' key; its records name the config
/// `config_sha256` (the functions', and `breakglass notify` with a config of its own: none).
pub fn trail(clients: &Clients, audit: AuditConfig, config_sha256: Option<String>) -> Trail<S3AuditLog> {
    Trail { log: S3AuditLog::for_config(clients, &audit), config: audit, config_sha256 }
}

/// The trail a per-config cell holds, or the error that stops this event.
fn trail_or_error(trail: &Result<Trail<S3AuditLog>, SetupError>) -> Result<&Trail<S3AuditLog>, BoxError> {
    trail.as_ref().map_err(|e| BoxError::from(e.to_string()))
}

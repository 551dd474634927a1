//! The gate: the config, the audit trail (signed with the records' HMAC key, read back verified),
//! the bus and the policy stores built once, then every call through its function URL to
//! [`breakglass_core::access::gate::handle`], whose answer is the HTTP response. Settings:
//! `BREAKGLASS_CONFIG_S3` (organisation mode) or `BREAKGLASS_CONFIG` or `BREAKGLASS_CONFIG_FILE`,
//! `BREAKGLASS_EVENT_BUS`, `BREAKGLASS_AUDIT_BUCKET`, `BREAKGLASS_RECORD_KEY` and
//! `BREAKGLASS_GATE_ROLES` (the operator roles whose sessions may call). Without an audit trail or
//! roles it does not start.

use breakglass_core::access::approval::TrailRecords;
use breakglass_core::access::gate::{handle, through_its_url, Answer, Gate};
use breakglass_core::runtime::{PerConfig, Settings};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use time::OffsetDateTime;

use super::{trail_or_error, BoxError, Function, Trailed};
use crate::{Accounts, ConfigObject, EventBridgeBus, S3Store};

#[derive(Debug)]
pub struct GateFunction {
    trailed: Trailed,
    bus: EventBridgeBus,
    stores: PerConfig<S3Store>,
    roles: Vec<String>,
    /// Organisation mode: the config object, which the gate writes once two people agreed.
    configs: Option<ConfigObject>,
}

impl Function for GateFunction {
    const NAME: &'static str = "gate";
    async fn start(settings: Settings) -> Result<GateFunction, BoxError> {
        let roles = settings.gate_roles()?.to_vec();
        let trailed = Trailed::start(settings).await?;
        let bus =
            EventBridgeBus::new(trailed.base.clients.eventbridge.clone(), trailed.base.settings.event_bus()?);
        // Sealed with the records' key, which the config source already required in organisation mode.
        let settings = &trailed.base.settings;
        let configs =
            settings.config_location()?.zip(settings.record_key.as_deref()).map(|((bucket, key), seal)| {
                ConfigObject::sealed(&trailed.base.clients, &bucket, &key, seal, "gate")
            });
        Ok(GateFunction { trailed, bus, stores: PerConfig::default(), roles, configs })
    }
    async fn invoke(&self, event: LambdaEvent<Value>) -> Result<Value, BoxError> {
        if let Err(refused) = through_its_url(&event.context.invoked_function_arn) {
            tracing::error!(error = %refused, "direct invocation refused");
            return Ok(Answer::from(refused).to_response());
        }
        // The gate's own clock stamps every time; the caller's is never read.
        self.handle(&event.payload, OffsetDateTime::now_utc()).await
    }
}

impl GateFunction {
    /// The function URL's response to `raw`.
    pub async fn handle(&self, raw: &Value, now: OffsetDateTime) -> Result<Value, BoxError> {
        let (loaded, trail) = self.trailed.in_force().await;
        let trail = trail_or_error(&trail)?;
        let clients = &self.trailed.base.clients;
        // Organisation mode: the bucket's logging account through its member role, as session
        // `breakglass-gate`; single-account mode: the function's own credentials.
        let store = self.stores.get(&loaded, |l| {
            let accounts = Accounts::for_config(clients, &l.config, "breakglass-gate");
            S3Store::routed(clients, accounts, &l.config)
        });
        let records = TrailRecords {
            reader: &trail.log,
            prefix: trail.config.prefix.clone(),
            organisation: loaded.config.organisation.is_some(),
        };
        let gate = Gate {
            config: &loaded.config,
            store: &*store,
            bus: &self.bus,
            trail,
            records: &records,
            roles: &self.roles,
        };
        Ok(handle(&gate, self.configs.as_ref(), raw, now).await.to_response())
    }
}

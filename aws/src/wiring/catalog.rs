//! The Service Catalog custom-resource function: the clients built once (the routing once per config
//! in force), then every CloudFormation request to [`breakglass_core::access::catalog::handle`], which acts
//! only for stacks that Service Catalog provisioned from a breakglass product for an allowed
//! principal, and always answers the request's pre-signed URL. Settings: `BREAKGLASS_CONFIG_S3`
//! (organisation mode) or `BREAKGLASS_CONFIG` or `BREAKGLASS_CONFIG_FILE`, `BREAKGLASS_EVENT_BUS`,
//! `BREAKGLASS_CATALOG_PRODUCTS` (product IDs) and `BREAKGLASS_CATALOG_PRINCIPALS` (who may
//! provision them); with either empty, every request is refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use breakglass_core::access::catalog::{handle, Catalog, Origin};
use breakglass_core::runtime::PerConfig;
use breakglass_core::runtime::{Settings, SetupError};
use breakglass_core::trail::audit::Trail;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use time::OffsetDateTime;

use super::{audit_trail, Base, BoxError, Function};
use crate::{Accounts, CloudFormationProvenance, EventBridgeBus, HttpsResponder, S3AuditLog, S3Store};

/// Time kept back from the Lambda's deadline to send the answer even when the work timed out.
const ANSWER_MARGIN: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct CatalogFunction {
    base: Base,
    stores: PerConfig<S3Store>,
    /// Where requests are recorded before they are mailed (none without `[audit]`: refused).
    trails: PerConfig<Result<Trail<S3AuditLog>, SetupError>>,
    bus: EventBridgeBus,
    responder: HttpsResponder,
    provenance: CloudFormationProvenance,
    origin: Origin,
}

impl Function for CatalogFunction {
    const NAME: &'static str = "catalog";
    async fn start(settings: Settings) -> Result<CatalogFunction, BoxError> {
        let base = Base::start(settings).await?;
        let bus = EventBridgeBus::new(base.clients.eventbridge.clone(), base.settings.event_bus()?);
        let responder = HttpsResponder::new(base.clients.timeouts)?;
        let provenance = CloudFormationProvenance::new(base.clients.cloudformation());
        let origin = Origin::from_lists(&base.settings.catalog_products, &base.settings.catalog_principals);
        Ok(CatalogFunction {
            base,
            stores: PerConfig::default(),
            trails: PerConfig::default(),
            bus,
            responder,
            provenance,
            origin,
        })
    }
    async fn invoke(&self, event: LambdaEvent<Value>) -> Result<Value, BoxError> {
        let now = OffsetDateTime::now_utc();
        self.handle(&event.payload, now, event.context.deadline).await
    }
}

impl CatalogFunction {
    /// `deadline`: the invocation's, in milliseconds since the epoch.
    pub async fn handle(&self, raw: &Value, now: OffsetDateTime, deadline: u64) -> Result<Value, BoxError> {
        let loaded = self.base.source.current().await;
        // Organisation mode: the bucket's logging account through its member role, as session
        // `breakglass-catalog`; single-account mode: the function's own credentials.
        let store = self.stores.get(&loaded, |l| {
            let accounts = Accounts::for_config(&self.base.clients, &l.config, "breakglass-catalog");
            S3Store::routed(&self.base.clients, accounts, &l.config)
        });
        let (bus, responder, provenance, origin) =
            (&self.bus, &self.responder, &self.provenance, &self.origin);
        let trail = self.trails.get(&loaded, |l| audit_trail(&self.base.clients, &self.base.settings, l));
        let catalog = &Catalog {
            config: &loaded.config,
            store: &*store,
            bus,
            responder,
            provenance,
            origin,
            trail: trail.as_ref().as_ref().ok(),
        };
        let deadline = UNIX_EPOCH + Duration::from_millis(deadline);
        let left = deadline.duration_since(SystemTime::now()).unwrap_or_default();
        let budget = left.saturating_sub(ANSWER_MARGIN).max(Duration::from_secs(1));
        Ok(handle(catalog, raw, now, budget).await?)
    }
}

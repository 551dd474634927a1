//! The Service Catalog custom-resource Lambda: builds the clients once (the routing once per config
//! in force), then hands every
//! CloudFormation request to `breakglass_core::access::catalog::handle`, which acts only for stacks that
//! Service Catalog provisioned from a breakglass product for an allowed principal, and always answers
//! the request's pre-signed URL. Environment (set by template.yaml): `BREAKGLASS_CONFIG_S3`
//! (organisation mode) or `BREAKGLASS_CONFIG` or
//! `BREAKGLASS_CONFIG_FILE`, `BREAKGLASS_EVENT_BUS`, `BREAKGLASS_CATALOG_PRODUCTS` (product IDs) and
//! `BREAKGLASS_CATALOG_PRINCIPALS` (who may provision them); with either empty, every request is
//! refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use breakglass_aws::{
    Accounts, Clients, CloudFormationProvenance, ConfigSource, EventBridgeBus, HttpsResponder, S3Store,
};
use breakglass_core::access::catalog::{handle, Catalog, Origin};
use breakglass_core::handler::{env, LoadedConfig, PerConfig};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

/// Time kept back from the Lambda's deadline to send the answer even when the work timed out.
const ANSWER_MARGIN: Duration = Duration::from_secs(5);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().with_ansi(false).without_time().with_target(false).init();
    let clients = Clients::load(None).await;
    // One readable line (the error itself), not only the Debug form Rust prints when main fails.
    let source = ConfigSource::from_env(&clients)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start: no config"))?;
    // Organisation mode: the bucket's logging account through its member role, as session
    // `breakglass-catalog`; single-account mode: the function's own credentials.
    let wire = |loaded: &LoadedConfig| {
        let accounts = Accounts::for_config(&clients, &loaded.config, "breakglass-catalog");
        S3Store::routed(&clients, accounts, &loaded.config)
    };
    let stores = PerConfig::default();
    let bus = EventBridgeBus::new(clients.eventbridge.clone(), env("BREAKGLASS_EVENT_BUS")?);
    let responder = HttpsResponder::new()?;
    let provenance = CloudFormationProvenance::new(clients.cloudformation.clone());
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let origin =
        Origin::from_lists(&var("BREAKGLASS_CATALOG_PRODUCTS"), &var("BREAKGLASS_CATALOG_PRINCIPALS"));
    let (source, stores, wire, bus, responder, provenance, origin) =
        (&source, &stores, &wire, &bus, &responder, &provenance, &origin);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = time::OffsetDateTime::now_utc();
        let loaded = source.current().await;
        let store = stores.get(&loaded, wire);
        let catalog = &Catalog { config: &loaded.config, store: &*store, bus, responder, provenance, origin };
        // `deadline` is in milliseconds since the epoch.
        let deadline = UNIX_EPOCH + Duration::from_millis(event.context.deadline);
        let left = deadline.duration_since(SystemTime::now()).unwrap_or_default();
        let budget = left.saturating_sub(ANSWER_MARGIN).max(Duration::from_secs(1));
        handle(catalog, &event.payload, now, budget).await.map_err(Error::from)
    }))
    .await
}

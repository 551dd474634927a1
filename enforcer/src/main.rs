//! The enforcer Lambda: builds the config and AWS clients once, then hands every event to
//! `breakglass_core::handler::enforce_event`. Environment (set by template.yaml):
//! `BREAKGLASS_CONFIG` or `BREAKGLASS_CONFIG_FILE`, `BREAKGLASS_EVENT_BUS`, `BREAKGLASS_DRY_RUN`.

use breakglass_aws::{Clients, EventBridgeBus, S3Store};
use breakglass_core::enforce::Enforcer;
use breakglass_core::handler::{config_from_env, enforce_event, env};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().with_ansi(false).without_time().with_target(false).init();
    let config = config_from_env()?;
    let clients = Clients::load(None).await;
    let enforcer = Enforcer {
        config,
        store: S3Store::new(clients.s3),
        bus: EventBridgeBus::new(clients.eventbridge, env("BREAKGLASS_EVENT_BUS")?),
        dry_run: std::env::var("BREAKGLASS_DRY_RUN").is_ok_and(|v| v == "true"),
    };
    let enforcer = &enforcer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = time::OffsetDateTime::now_utc();
        enforce_event(enforcer, &event.payload, now).await.map_err(Error::from)
    }))
    .await
}

//! The enforcer Lambda: builds the config and AWS clients once, then hands every event to
//! `breakglass_core::handler::enforce_event`: the bucket policies (enforcer) and the paths around them
//! (sentinel: bucket settings, investigator trust, subscriptions). Environment (set by template.yaml):
//! `BREAKGLASS_CONFIG` or `BREAKGLASS_CONFIG_FILE`, `BREAKGLASS_EVENT_BUS`, `BREAKGLASS_DRY_RUN`,
//! `BREAKGLASS_ALARM_TOPIC_ARN`, and `BREAKGLASS_TOPIC_ARN` with `BREAKGLASS_SUBSCRIPTIONS` (the
//! subscriptions the notification topic must keep).

use breakglass_aws::{Accounts, AwsControlPlane, Clients, EventBridgeBus, S3Store};
use breakglass_core::enforce::Enforcer;
use breakglass_core::handler::{config_from_env, enforce_and_guard_event, env, expected_from_env};
use breakglass_core::sentinel::Sentinel;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().with_ansi(false).without_time().with_target(false).init();
    let config = config_from_env()?;
    let expected = expected_from_env()?;
    let clients = Clients::load(None).await;
    let dry_run = std::env::var("BREAKGLASS_DRY_RUN").is_ok_and(|v| v == "true");
    // Organisation mode: each logging account through its member role, as session
    // `breakglass-enforcer`; single-account mode: the function's own credentials.
    let accounts = Accounts::for_config(&clients, &config, "breakglass-enforcer");
    let control = AwsControlPlane::new(&clients, std::env::var("BREAKGLASS_ALARM_TOPIC_ARN").ok())
        .with_accounts(accounts.clone());
    let enforcer = Enforcer {
        store: S3Store::routed(&clients, accounts, &config),
        config,
        bus: EventBridgeBus::new(clients.eventbridge, env("BREAKGLASS_EVENT_BUS")?),
        dry_run,
    };
    let sentinel = Sentinel {
        config: &enforcer.config,
        store: &enforcer.store,
        bus: &enforcer.bus,
        control: &control,
        expected: &expected,
        dry_run,
    };
    let (enforcer, sentinel) = (&enforcer, &sentinel);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = time::OffsetDateTime::now_utc();
        enforce_and_guard_event(enforcer, sentinel, &event.payload, now).await.map_err(Error::from)
    }))
    .await
}

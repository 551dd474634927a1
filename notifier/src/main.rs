//! The notifier Lambda: builds the config and the SNS client once, then hands every event to
//! `breakglass_core::handler::notify_event`. Environment (set by template.yaml):
//! `BREAKGLASS_CONFIG` or `BREAKGLASS_CONFIG_FILE`, `BREAKGLASS_TOPIC_ARN`.

use breakglass_aws::{Clients, SnsPublisher};
use breakglass_core::handler::{config_from_env, env, notify_event};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().with_ansi(false).without_time().with_target(false).init();
    let config = config_from_env()?;
    let clients = Clients::load(None).await;
    let publisher = SnsPublisher::new(clients.sns, env("BREAKGLASS_TOPIC_ARN")?);
    let (config, publisher) = (&config, &publisher);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = time::OffsetDateTime::now_utc();
        notify_event(config, publisher, &event.payload, now).await.map_err(Error::from)
    }))
    .await
}

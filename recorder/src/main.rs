//! The recorder Lambda: starts [`breakglass_aws::wiring::RecorderFunction`] (which says what it does and
//! which settings it reads) and hands it every event. A failure to start is logged and ends the
//! process with the error.

use breakglass_aws::wiring::{init_logging, RecorderFunction};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_logging();
    let function = &RecorderFunction::start().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        function.handle(&event.payload, time::OffsetDateTime::now_utc()).await
    }))
    .await
}

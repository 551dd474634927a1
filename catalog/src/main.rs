//! The Service Catalog custom-resource Lambda: starts [`breakglass_aws::wiring::CatalogFunction`]
//! (which says what it does and which settings it reads) and hands it every CloudFormation request
//! with the invocation's deadline. A failure to start is logged and ends the process with the error.

use breakglass_aws::wiring::{init_logging, CatalogFunction};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_logging();
    let function = &CatalogFunction::start().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = time::OffsetDateTime::now_utc();
        function.handle(&event.payload, now, event.context.deadline).await
    }))
    .await
}

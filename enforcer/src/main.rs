//! The enforcer Lambda: the bucket policies and the paths around them, on every guarded call and on
//! the schedule. What it does and which settings it reads: [`breakglass_aws::wiring::EnforcerFunction`].

use breakglass_aws::wiring::{serve, BoxError, EnforcerFunction};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    serve::<EnforcerFunction>().await
}
